"""Drive mix-python-sdk==0.8.1 against a server; one scenario a run, JSON on stdout.

Usage: mix_client.py <server_url> <api_key> <scenario> [json-args]
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

import httpx
from mix_python_sdk import Mix, errors
from mix_python_sdk.utils import BackoffStrategy, RetryConfig

URL, KEY, SCENARIO = sys.argv[1], sys.argv[2], sys.argv[3]
ARGS: dict[str, Any] = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
LATE: list[Any] = []  # the frames of the late reader, if any
NO_RETRY = RetryConfig("backoff", BackoffStrategy(100, 200, 1.5, 500), False)


def mix() -> Mix:
    client = httpx.Client(headers={"Authorization": f"Bearer {KEY}"})
    return Mix(server_url=URL, client=client, retry_config=NO_RETRY)


def dump(obj: Any) -> Any:
    if isinstance(obj, list):
        return [dump(o) for o in obj]
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json", by_alias=True)
    return obj


def error(call: Any) -> dict[str, Any]:
    try:
        call()
    except errors.ErrorResponse as exc:
        return {"status": exc.raw_response.status_code, **exc.data.error.model_dump(mode="json")}
    except errors.MixDefaultError as exc:
        return {"status": exc.status_code, "default": exc.body}
    return {"status": "no error"}


def collect(sdk: Mix, session_id: str, last: str | None, until: set[str], box: list[Any]) -> None:
    res = sdk.streaming.stream_events(session_id=session_id, last_event_id=last)
    for ev in res.result:
        data = ev.data.model_dump(mode="json", by_alias=True, exclude_none=True)
        box.append({"event": ev.event, "id": ev.id if hasattr(ev, "id") else None, "data": data})
        if ev.event in until and not data.get("parentToolCallId"):
            break
    res.result.response.close()


def seen(box: list[Any], event: str, nested: bool) -> bool:
    return any(f.get("event") == event and bool(f["data"].get("parentToolCallId")) == nested
               for f in list(box))  # fmt: skip


def wait_for(box: list[Any], when: dict[str, Any]) -> None:
    """Until the stream showed the frame ``when`` names (bounded: 60 s)."""
    for _ in range(1200):
        if seen(box, when["event"], bool(when.get("nested"))):
            return
        time.sleep(0.05)
    raise AssertionError(f"no {when} frame arrived: {box}")


def turn(sdk: Mix, session_id: str, text: str, cancel: dict[str, Any] | None = None) -> list[Any]:
    """Send ``text`` and read the stream to the turn's end; cancel when ``cancel`` says."""
    box: list[Any] = []
    reader = threading.Thread(
        target=collect, args=(sdk, session_id, None, {"complete", "error"}, box)
    )
    reader.start()
    time.sleep(0.5)
    options = {k: ARGS[k] for k in ("thinking_level", "plan_mode") if k in ARGS}
    sent = sdk.messages.send(id=session_id, text=text, **options)
    assert sent.status == "processing", sent
    if cancel is not None:
        if "event" in cancel:
            wait_for(box, cancel)
        if ARGS.get("late_reader"):  # a second reader that joins now, mid-turn
            late = threading.Thread(target=collect, args=(sdk, session_id, None, {"error"}, LATE))
            late.start()
            wait_for(LATE, {"event": "connected"})
        time.sleep(cancel.get("after", 0))
        started = time.monotonic()
        out = sdk.sessions.cancel_processing(id=session_id)
        box.append({"cancel": dump(out), "cancel_seconds": time.monotonic() - started})
    reader.join(timeout=60)
    return box


def scenario_sessions(sdk: Mix) -> dict[str, Any]:
    made = sdk.sessions.create(
        title="first",
        browser_mode="local-browser-service",
        callbacks=[{"toolName": "Bash", "type": "bash_script", "bashCommand": "echo hi"}],
    )
    cdp = sdk.sessions.create(
        title="cdp", browser_mode="remote-cdp-websocket", cdp_url="ws://x:1/devtools"
    )
    got = sdk.sessions.get(id=made.id)
    updated = sdk.sessions.update_session_callbacks(
        id=made.id, callbacks=[{"toolName": "*", "type": "send_message", "messageContent": "go on"}]
    )
    listed = sdk.sessions.list()
    res = sdk.sessions.export_session(id=made.id)
    headers, exported = res.headers, res.result
    sdk.sessions.delete(id=cdp.id)
    return {
        "created": dump(made),
        "cdp": dump(cdp),
        "got": dump(got),
        "updated": dump(updated),
        "listed": [s.id for s in listed],
        "export": dump(exported),
        "disposition": headers.get("content-disposition"),
        "after_delete": [s.id for s in sdk.sessions.list()],
        "get_deleted": error(lambda: sdk.sessions.get(id=cdp.id)),
        "cancel_idle": dump(sdk.sessions.cancel_processing(id=made.id)),
    }


def scenario_errors(sdk: Mix) -> dict[str, Any]:
    c = sdk.sessions.create
    big = "x" * 51_201
    return {
        "title": error(lambda: c(title="", browser_mode="local-browser-service")),
        "cdp_missing": error(lambda: c(title="t", browser_mode="remote-cdp-websocket")),
        "cdp_scheme": error(
            lambda: c(title="t", browser_mode="remote-cdp-websocket", cdp_url="http://x")
        ),
        "append_size": error(
            lambda: c(
                title="t",
                browser_mode="local-browser-service",
                prompt_mode="append",
                custom_system_prompt=big,
            )
        ),
        "replace_ok": dump(
            c(
                title="t",
                browser_mode="local-browser-service",
                prompt_mode="replace",
                custom_system_prompt=big,
            )
        ).get("id")
        is not None,
        "default_ignores": dump(
            c(title="t", browser_mode="local-browser-service", custom_system_prompt="y" * 200_000)
        ).get("id")
        is not None,
        "subagent_type": error(
            lambda: c(title="t", browser_mode="local-browser-service", subagent_type="x")
        ),
        "callback": error(
            lambda: c(
                title="t",
                browser_mode="local-browser-service",
                callbacks=[{"toolName": "Bash", "type": "bash_script"}],
            )
        ),
        "callback_exclude": error(
            lambda: c(
                title="t",
                browser_mode="local-browser-service",
                callbacks=[
                    {
                        "toolName": "Bash",
                        "type": "send_message",
                        "messageContent": "m",
                        "excludeFromContext": True,
                    }
                ],
            )
        ),
        "sub_agent_prompt": error(
            lambda: c(
                title="t",
                browser_mode="local-browser-service",
                callbacks=[{"toolName": "*", "type": "sub_agent"}],
            )
        ),
        "send_content": error(
            lambda: c(
                title="t",
                browser_mode="local-browser-service",
                callbacks=[{"toolName": "*", "type": "send_message"}],
            )
        ),
        "first_rule_first": error(
            lambda: c(
                title="",
                browser_mode="remote-cdp-websocket",
                prompt_mode="replace",
                custom_system_prompt="x" * 102_401,
                callbacks=[{"toolName": "Bash", "type": "bash_script"}],
            )
        ),
        "replace_size": error(
            lambda: c(
                title="t",
                browser_mode="local-browser-service",
                prompt_mode="replace",
                custom_system_prompt="x" * 102_401,
            )
        ),
        "replace_max": dump(
            c(
                title="t",
                browser_mode="local-browser-service",
                prompt_mode="replace",
                custom_system_prompt="x" * 102_400,
            )
        ).get("id")
        is not None,
        # 25,601 two-byte characters: under 51,200 characters, over 51,200 bytes
        "append_bytes": error(
            lambda: c(
                title="t",
                browser_mode="local-browser-service",
                prompt_mode="append",
                custom_system_prompt="é" * 25_601,
            )
        ),
        "append_max": dump(
            c(
                title="t",
                browser_mode="local-browser-service",
                prompt_mode="append",
                custom_system_prompt="é" * 25_600,
            )
        ).get("id")
        is not None,
        "wss": dump(
            c(title="t", browser_mode="remote-cdp-websocket", cdp_url="wss://x:1/devtools")
        ).get("cdpUrl"),
        "patch_invalid": error(
            lambda: sdk.sessions.update_session_callbacks(
                id=c(title="p", browser_mode="local-browser-service").id,
                callbacks=[{"toolName": "Bash", "type": "bash_script"}],
            )
        ),
        "patch_missing": error(
            lambda: sdk.sessions.update_session_callbacks(id="nope", callbacks=[])
        ),
        "patch_clears": dump(
            sdk.sessions.update_session_callbacks(
                id=c(
                    title="p",
                    browser_mode="local-browser-service",
                    callbacks=[{"toolName": "*", "type": "bash_script", "bashCommand": "true"}],
                ).id,
                callbacks=[],
            )
        ).get("callbacks"),
        "history_huge": dump(sdk.messages.get_history(limit=10**20, offset=10**19)),
        "delete_missing": error(lambda: sdk.sessions.delete(id="nope")),
        "export_missing": error(lambda: sdk.sessions.export_session(id="nope")),
        "cancel_missing": error(lambda: sdk.sessions.cancel_processing(id="nope")),
        "list_files_missing": error(lambda: sdk.files.list_session_files(id="nope")),
        "get_missing": error(lambda: sdk.sessions.get(id="nope")),
        "rewind_missing": error(lambda: sdk.sessions.rewind_session(id="nope", message_id="m")),
        "send_missing": error(lambda: sdk.messages.send(id="nope", text="hi")),
    }


def scenario_files(sdk: Mix) -> dict[str, Any]:
    s = sdk.sessions.create(title="files", browser_mode="local-browser-service")
    up = sdk.files.upload_session_file(
        id=s.id, file={"file_name": "my notes.txt", "content": b"hello"}
    )
    evil = sdk.files.upload_session_file(
        id=s.id, file={"file_name": "../escape.txt", "content": b"x"}
    )
    listed = sdk.files.list_session_files(id=s.id)
    body = sdk.files.get_session_file(id=s.id, filename=up.name)
    content = body.read().decode()
    sdk.files.delete_session_file(id=s.id, filename=up.name)
    big = error(
        lambda: sdk.files.upload_session_file(
            id=s.id, file={"file_name": "big.bin", "content": b"0" * (32 * 1024 * 1024 + 1)}
        )
    )
    return {
        "session": s.id,
        "uploaded": dump(up),
        "evil": dump(evil),
        "listed": dump(listed),
        "content": content,
        "after": [f.name for f in sdk.files.list_session_files(id=s.id)],
        "missing": error(lambda: sdk.files.get_session_file(id=s.id, filename="nope.txt")),
        "too_big": big,
    }


def scenario_turn(sdk: Mix) -> dict[str, Any]:
    s = sdk.sessions.create(
        title="agent",
        browser_mode="local-browser-service",
        callbacks=ARGS.get("callbacks"),
        prompt_mode=ARGS.get("prompt_mode", "default"),
        custom_system_prompt=ARGS.get("prompt"),
    )
    for name, data in ARGS.get("files", {}).items():
        sdk.files.upload_session_file(id=s.id, file={"file_name": name, "content": data.encode()})
    frames = turn(sdk, s.id, ARGS.get("text", "do it"), ARGS.get("cancel"))
    for _ in range(600):  # the late reader ends with the turn's error (bounded: 30 s)
        if not ARGS.get("late_reader") or seen(LATE, "error", False):
            break
        time.sleep(0.05)
    time.sleep(ARGS.get("settle", 0.3))
    subagents = [x for x in sdk.sessions.list(include_subagents=True)
                 if x.parent_session_id == s.id]  # fmt: skip
    out = {
        "session": dump(sdk.sessions.get(id=s.id)),
        "listed": [x.id for x in sdk.sessions.list()],
        "frames": frames,
        "messages": dump(sdk.messages.list_session(id=s.id)),
        "files": sorted(f.name for f in sdk.files.list_session_files(id=s.id)),
        "subagents": dump(subagents),
        "late": LATE,
        "subagent_messages": {x.id: dump(sdk.messages.list_session(id=x.id)) for x in subagents},
        "finish_reasons": {
            x: [m.finish_reason for m in sdk.sessions.export_session(id=x).result.messages]
            for x in [s.id, *(sub.id for sub in subagents)]
        },
    }
    if ARGS.get("second_text"):
        out["second"] = turn(sdk, s.id, ARGS["second_text"])
        out["messages"] = dump(sdk.messages.list_session(id=s.id))
        out["history"] = dump(sdk.messages.get_history())
        out["history_page"] = dump(sdk.messages.get_history(limit=1, offset=1))
    if ARGS.get("replay_from") is not None:
        box: list[Any] = []
        collect(sdk, s.id, str(ARGS["replay_from"]), {"complete", "error"}, box)
        out["replay"] = box
    return out


def scenario_replay(sdk: Mix) -> dict[str, Any]:
    """Reconnect with ``Last-Event-ID`` and read to the turn's end."""
    box: list[Any] = []
    collect(sdk, ARGS["session"], str(ARGS["last"]), {"complete", "error"}, box)
    return {"frames": box}


def read_until(sdk: Mix, session_id: str, last: str | None, frames: int, box: list[Any]) -> None:
    """Read the stream into ``box`` until it holds ``frames`` content frames or the turn's
    end, then hang up (a client that drops mid-reply)."""
    res = sdk.streaming.stream_events(session_id=session_id, last_event_id=last)
    for ev in res.result:
        data = ev.data.model_dump(mode="json", by_alias=True, exclude_none=True)
        box.append({"event": ev.event, "id": ev.id, "data": data})
        if sum(f["event"] == "content" for f in box) >= frames:
            break
        if ev.event in ("complete", "error"):
            break
    res.result.response.close()


def scenario_resume(sdk: Mix) -> dict[str, Any]:
    """A reader drops after ``frames`` content frames of a reply; it reconnects with the
    last id it saw while the reply still arrives, and once more after it was stored."""
    s = sdk.sessions.create(title="resume", browser_mode="local-browser-service")
    first: list[Any] = []
    reader = threading.Thread(target=read_until, args=(sdk, s.id, None, ARGS["frames"], first))
    reader.start()
    time.sleep(0.5)
    sdk.messages.send(id=s.id, text="go")
    reader.join(timeout=60)
    last = first[-1]["id"]
    rest: list[Any] = []
    read_until(sdk, s.id, last, 10**6, rest)
    again: list[Any] = []
    read_until(sdk, s.id, last, 10**6, again)
    return {"session": s.id, "first": first, "rest": rest, "again": again}


def scenario_rewind(sdk: Mix) -> dict[str, Any]:
    sid, keep = ARGS["session"], ARGS["message"]
    rewound = sdk.sessions.rewind_session(id=sid, message_id=keep, cleanup_media=True)
    return {
        "rewound": dump(rewound),
        "messages": dump(sdk.messages.list_session(id=sid)),
        "files": sorted(f.name for f in sdk.files.list_session_files(id=sid)),
        "missing": error(lambda: sdk.sessions.rewind_session(id=sid, message_id="nope")),
    }


print(json.dumps(globals()[f"scenario_{SCENARIO}"](mix())))
