"""Agent turns through the real SDK, driven by the scripted fake LLM."""

from __future__ import annotations

import contextlib
import json
import random
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.dialects.mix.conftest import Harness

TWO_TOOLS = [
    {"reasoning": "I should write then read.", "content": "Working on it.",
     "tools": [("Write", {"file_path": "out.txt", "content": "hello from the agent\n"}),
               ("Bash", {"command": "cat out.txt && echo done"})],
     "prompt_tokens": 100, "completion_tokens": 20, "cost": 0.25},
    {"content": "All finished: out.txt holds the greeting.", "prompt_tokens": 150,
     "completion_tokens": 10, "cost": 0.5},
]  # fmt: skip
CALLBACK = {"toolName": "Bash", "type": "bash_script", "name": "echo-tool",
            "bashCommand": 'echo "$CALLBACK_TOOL_NAME:$CALLBACK_TOOL_RESULT"'}  # fmt: skip


def names(frames: list[dict[str, Any]]) -> list[str]:
    return [f["event"] for f in frames if "event" in f]


def reduced(frames: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """What a client learns: consecutive deltas of one message joined, no heartbeats or
    partial tool arguments (the ``..._streaming_complete`` frame carries them whole)."""
    out: list[tuple[str, str]] = []
    for f in frames:
        name, data = f.get("event"), f.get("data", {})
        if name in (None, "heartbeat", "tool_use_parameter_delta"):
            continue
        key = f"{name}:{data.get('assistantMessageId')}"
        if name in ("content", "thinking") and out and out[-1][0] == key:
            out[-1] = (key, out[-1][1] + data["content"])
        else:
            out.append((key, data.get("content") or data.get("input") or data.get("name") or ""))
    return out


@pytest.mark.parametrize("agent_stream", [True, False], ids=["streamed", "whole"])
@pytest.mark.parametrize("script", [TWO_TOOLS])
def test_turn_with_two_tools_and_a_callback(harness: Harness, agent_stream: bool) -> None:
    out = harness.run("turn", text="write and read", callbacks=[CALLBACK], replay_from=0,
                      prompt_mode="append", prompt="Project: $<project>",
                      thinking_level="maximum")  # fmt: skip
    for request in harness.llm.requests:
        assert bool(request.get("stream")) is agent_stream
        assert request["reasoning_effort"] == "high"  # thinking_level maximum
    seen = names(out["frames"])
    assert seen[0] == "connected" and seen[-1] == "complete"
    for name in ("user_message_created", "thinking", "content", "tool_use_start",
                 "tool_use_parameter_delta", "tool_use_parameter_streaming_complete",
                 "tool_execution_start", "tool_execution_complete"):  # fmt: skip
        assert name in seen, name
    assert out["frames"][-1]["data"]["content"] == "All finished: out.txt holds the greeting."
    user, first, final = out["messages"]
    assert user["role"] == "user" and user["userInput"] == "write and read"
    assert first["reasoning"] == "I should write then read."
    calls = {c["name"]: c for c in first["toolCalls"]}
    assert calls["Write"]["finished"] and "out.txt" in calls["Write"]["result"]
    assert calls["Bash"]["result"] == "hello from the agent\ndone"
    (cb,) = first["callbackResults"]
    assert cb["callback_type"] == "bash_script" and cb["success"] is True
    assert cb["stdout"].strip() == "Bash:hello from the agent\ndone"
    assert final["assistantResponse"] == "All finished: out.txt holds the greeting."
    tokens = [(m.get("inputTokens"), m.get("outputTokens"), m.get("cost")) for m in (first, final)]
    assert tokens == [(100, 20, 0.25), (150, 10, 0.5)]
    session = out["session"]
    assert (session["userMessageCount"], session["assistantMessageCount"]) == (1, 2)
    assert session["toolCallCount"] == 2 and session["promptTokens"] == 250
    assert session["cost"] == pytest.approx(0.75)
    assert session["firstUserMessage"] == "write and read"
    assert out["files"] == ["out.txt"]
    # Last-Event-ID: 0 replays the whole turn, each reply whole rather than in deltas
    assert reduced(out["replay"])[1:] == reduced(out["frames"])[1:]
    assert "tool_use_parameter_delta" not in names(out["replay"])
    # from the middle: exactly what followed the frame whose id the client gives back
    middle = next(f for f in out["replay"] if f.get("event") == "tool_execution_start")
    resumed = harness.run("replay", session=out["session"]["id"], last=middle["id"])["frames"]
    after = [f for f in out["replay"] if position(f["id"]) > position(middle["id"])]
    assert reduced(resumed)[1:] == reduced(after) and names(resumed)[-1] == "complete"
    raw_frames(harness, out["session"]["id"])
    system = harness.llm.requests[0]["messages"][0]
    assert system["role"] == "system" and system["content"].endswith("Project: apollo")
    second = harness.llm.requests[1]["messages"]
    assert [m["role"] for m in second[1:]] == ["user", "assistant", "tool", "tool", "user"]
    with httpx.Client(headers={"Authorization": f"Bearer {harness.key}"}) as http:
        native = http.get(f"{harness.server.url}/v1/sessions/{session['id']}").json()
        assert native["kind"] == "agent" and native["totals"]["tool_calls"] == 2
        stored = [
            e["type"]
            for e in http.get(
                f"{harness.server.url}/v1/sessions/{session['id']}/events?limit=1000"
            ).json()["items"]
        ]
    assert stored.count("mix.reply") == 2  # one per model reply; its deltas were live only
    assert not {"mix.content", "mix.thinking", "mix.tool_use_parameter_delta"} & set(stored)


EVENTS = {"connected", "heartbeat", "error", "complete", "thinking", "content", "tool_use_start",
          "tool_use_parameter_delta", "tool_use_parameter_streaming_complete",
          "tool_execution_start", "tool_execution_complete", "permission", "notification",
          "user_message_created", "session_created", "session_deleted"}  # fmt: skip


def position(frame_id: str) -> tuple[int, int]:
    """A frame id as the position it names: ``<seq>`` or ``<seq>.<n>``."""
    seq, _, n = frame_id.partition(".")
    return int(seq), int(n or 0)


def raw_frames(harness: Harness, session_id: str) -> None:
    """On the wire, every frame has its own ``id:``, an ``event:`` of Mix's 16 and a JSON
    object as ``data:``; an idle stream sends heartbeats (bounded read: 20 s)."""
    auth = {"Authorization": f"Bearer {harness.key}", "Last-Event-ID": "0"}
    frames: list[dict[str, str]] = []
    with httpx.Client(timeout=20) as http, http.stream(
        "GET", f"{harness.url}/stream", params={"sessionId": session_id}, headers=auth
    ) as res:  # fmt: skip
        assert res.headers["content-type"].startswith("text/event-stream")
        current: dict[str, str] = {}
        for line in res.iter_lines():
            if line:
                field, _, value = line.partition(":")
                current[field] = value.strip()
                continue
            frames.append(current)
            current = {}
            if frames[-1].get("event") == "heartbeat" and "complete" in names(frames):
                break
    for f in frames:
        assert re.fullmatch(r"[0-9]+(\.[0-9]+)?", f["id"]) and f["event"] in EVENTS, f
        data = json.loads(f["data"])
        assert isinstance(data, dict) and (f["event"] == "connected" or data["type"]), f
    positions = [position(f["id"]) for f in frames]
    assert positions == sorted(positions)


SLOW = [{"content": "slow", "delay": 30}, {"content": "after the cancel"}]


def cancelled_last(frames: list[dict[str, Any]]) -> None:
    last = [f for f in frames if "event" in f][-1]
    assert last["event"] == "error" and last["data"]["type"] == "cancelled"
    cancel = next(f for f in frames if "cancel" in f)
    # A guard against a hang, not a timing assertion: the cancel itself takes
    # milliseconds (the "within a second" is shown by cancel_seconds).
    assert cancel["cancel"]["cancelled"] is True and cancel["cancel_seconds"] < 5.0


def hung_up(harness: Harness) -> bool:
    """The fake LLM saw its stalled request's connection close (bounded wait)."""
    for _ in range(100):
        if harness.llm.disconnects:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("script", [SLOW])
def test_cancel_while_the_streamed_request_is_in_flight(harness: Harness) -> None:
    out = harness.run("turn", text="take your time", second_text="again",
                      cancel={"event": "content"}, late_reader=True)  # fmt: skip
    cancelled_last(out["frames"])
    # the reader that saw the reply start got it live; the one that joined mid-reply too,
    # from the frames the server keeps of the reply in progress
    assert [f["data"]["content"] for f in out["frames"] if f.get("event") == "content"] == ["slow"]
    assert [f["data"]["content"] for f in out["late"] if f.get("event") == "content"] == ["slow"]
    assert names(out["late"])[-1] == "error"
    assert hung_up(harness) and harness.llm.disconnects == 1
    _user, partial, *_ = out["messages"]
    assert partial["role"] == "assistant" and partial["assistantResponse"] == "slow"
    assert out["finish_reasons"][out["session"]["id"]][:2] == [None, "cancelled"]
    assert [f["event"] for f in out["second"] if "event" in f][-1] == "complete"
    assert out["messages"][-1]["assistantResponse"] == "after the cancel"
    context = harness.llm.requests[-1]["messages"]
    assert [(m["role"], m["content"]) for m in context[1:]] == [
        ("user", "take your time"), ("assistant", "slow"), ("user", "again")]  # fmt: skip


@pytest.mark.parametrize("agent_stream", [False])
@pytest.mark.parametrize("script", [SLOW])
def test_cancel_while_a_whole_reply_is_awaited(harness: Harness) -> None:
    out = harness.run("turn", text="take your time", second_text="again", cancel={"after": 1.5})
    cancelled_last(out["frames"])
    assert hung_up(harness)
    assert [m["role"] for m in out["messages"][:2]] == ["user", "assistant"]
    assert out["messages"][1]["assistantResponse"] == ""  # kept, empty, marked cancelled
    assert out["finish_reasons"][out["session"]["id"]][1] == "cancelled"
    context = harness.llm.requests[-1]["messages"]  # the empty reply stays out of the context
    assert [m["role"] for m in context[1:]] == ["user", "user"]
    assert out["messages"][-1]["assistantResponse"] == "after the cancel"


@pytest.mark.parametrize("script", [[{"tools": [("Bash", {"command": "sleep 30"})]}]])
def test_cancel_mid_tool(harness: Harness) -> None:
    out = harness.run("turn", text="sleep", cancel={"event": "tool_execution_start"})
    cancelled_last(out["frames"])
    (_, assistant) = out["messages"]
    (call,) = assistant["toolCalls"]
    assert call["isError"] is True and call["result"] == "cancelled"


def sleeping(duration: str) -> bool:
    """Does a host process run ``sleep <duration>``?"""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            if cmdline.read_bytes().split(b"\0")[:2] == [b"sleep", duration.encode()]:
                return True
    return False


def wait_until(check: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_cancel_during_a_task_subagent(harness: Harness) -> None:
    """The subagent's tool process dies, both transcripts end cancelled and consistent."""
    # the Bash runs sandboxed (its own pid namespace, nothing writable outside its
    # session): the host finds it by a sleep duration no other process uses
    duration = f"{30 + random.random():.6f}"
    harness.llm.replies[:] = [
        {"content": "Delegating.", "tools": [("Task", {"description": "sleeper",
                                                       "prompt": "sleep for a while"})]},
        {"tools": [("Bash", {"command": f"exec sleep {duration}"})]},
    ]  # fmt: skip
    out = harness.run("turn", text="delegate a long job",
                      cancel={"event": "tool_execution_start", "nested": True})  # fmt: skip
    cancelled_last(out["frames"])
    assert wait_until(lambda: not sleeping(duration))  # the subagent's Bash is gone
    (sub,) = out["subagents"]
    task_call = out["messages"][1]["toolCalls"][0]
    assert out["messages"][1]["assistantResponse"] == "Delegating."
    assert task_call["result"] == "cancelled" and task_call["isError"] is True
    nested = [f for f in out["frames"] if f.get("data", {}).get("parentToolCallId")]
    assert nested[-1]["event"] == "error" and nested[-1]["data"]["type"] == "cancelled"
    assert {f["data"]["parentToolCallId"] for f in nested} == {task_call["id"]}
    sub_user, sub_reply = out["subagent_messages"][sub["id"]]
    assert sub_user["userInput"] == "sleep for a while"
    (bash,) = sub_reply["toolCalls"]
    assert bash["result"] == "cancelled" and bash["isError"] is True
    assert out["finish_reasons"][sub["id"]] == [None, "cancelled"]
    assert out["finish_reasons"][out["session"]["id"]] == [None, "cancelled"]


TASK = [
    {"tools": [("Task", {"description": "helper", "prompt": "say hi",
                         "subagent_type": "general-purpose"})], "cost": 0.1},
    {"content": "hi from the subagent", "cost": 0.2},
    {"content": "The subagent said hi.", "cost": 0.3},
]  # fmt: skip


@pytest.mark.parametrize("script", [TASK])
def test_task_subagent(harness: Harness) -> None:
    out = harness.run("turn", text="delegate")
    (sub,) = out["subagents"]
    assert sub["id"] not in out["listed"] and out["session"]["id"] in out["listed"]
    assert sub["sessionType"] == "subagent" and sub["subagentType"] == "general-purpose"
    assert sub["parentSessionId"] == out["session"]["id"]
    task_call = out["messages"][1]["toolCalls"][0]
    assert sub["parentToolCallId"] == task_call["id"]
    assert task_call["result"] == "hi from the subagent"
    assert out["session"]["cost"] == pytest.approx(0.6)  # its own 0.4 + the subagent's 0.2
    tagged = [f for f in out["frames"] if f.get("data", {}).get("parentToolCallId")]
    assert {"user_message_created", "content", "complete"} <= set(names(tagged))


def test_no_provider_configured(harness: Harness) -> None:
    harness.server.server.config.app.state.hub.settings.agent_base_url = None
    out = harness.run("turn", text="hello")
    last = [f for f in out["frames"] if "event" in f][-1]
    assert last["event"] == "error" and "SESSIONHUB_AGENT_BASE_URL" in last["data"]["error"]


TWO_TURNS = [
    {"content": "first answer"},
    {
        "tools": [
            ("Write", {"file_path": "late.txt", "content": "made in turn two"}),
            ("Write", {"file_path": "media/deep.txt", "content": "in a subdirectory"}),
        ]
    },
    {"content": "second answer"},
]


@pytest.mark.parametrize("script", [TWO_TURNS])
def test_rewind_with_media_cleanup_fork_and_history(harness: Harness) -> None:
    out = harness.run("turn", text="one", second_text="two", files={"early.txt": "kept"})
    messages = out["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "assistant"]
    assert [m["userInput"] for m in out["history"]] == ["two", "one"]
    assert {m["sessionId"] for m in out["history"]} == {out["session"]["id"]}
    assert [m["userInput"] for m in out["history_page"]] == ["one"]
    session_id = out["session"]["id"]
    auth = {"Authorization": f"Bearer {harness.key}"}
    with httpx.Client(base_url=harness.url, headers=auth) as http:
        fork = http.post(f"/api/sessions/{session_id}/fork", json={"messageIndex": 1})
        assert fork.status_code == 201, fork.text
        forked = fork.json()
        assert forked["title"] == "Forked Session" and forked["sessionType"] == "main"
        assert forked["parentSessionId"] == session_id
        kept = http.get(f"/api/sessions/{forked['id']}/messages").json()
        assert [m["userInput"] for m in kept] == ["one", "first answer"]
        assert {m["sessionId"] for m in kept} == {forked["id"]}
        assert not {m["id"] for m in kept} & {m["id"] for m in messages}  # new ids
        again = http.post(f"/api/sessions/{forked['id']}/rewind", json={"messageId": kept[0]["id"]})
        assert again.status_code == 200 and again.json()["userMessageCount"] == 1
        named = http.post(f"/api/sessions/{session_id}/fork", json={"messageIndex": 0,
                                                                     "title": "Mine"}).json()  # fmt: skip
        assert named["title"] == "Mine" and named["userMessageCount"] == 1
        assert [
            m["userInput"] for m in http.get(f"/api/sessions/{named['id']}/messages").json()
        ] == ["one"]
        bad = http.post(f"/api/sessions/{session_id}/fork", json={"messageIndex": -1})
        assert bad.status_code == 400 and bad.json()["error"]["type"] == "validation_error"
    rewound = harness.run("rewind", session=session_id, message=messages[1]["id"])
    assert rewound["rewound"]["userMessageCount"] == 1
    assert [m["id"] for m in rewound["messages"]] == [m["id"] for m in messages[:2]]
    # late.txt came after the first deleted message; Mix leaves subdirectories alone
    assert rewound["files"] == ["early.txt", "media/deep.txt"]
    assert rewound["missing"]["message"] == "Message with ID 'nope' not found"


CALLBACK_SCRIPT = [
    {"tools": [("Bash", {"command": "echo checked"})]},
    {"content": "sub says ok"},
    {"content": "final after callbacks"},
]  # fmt: skip
MORE_CALLBACKS = [
    {"toolName": "*", "type": "sub_agent", "subAgentPrompt": "review it", "excludeFromContext": True},
    {"toolName": "Bash", "type": "send_message", "messageContent": "now summarise"},
]  # fmt: skip


@pytest.mark.parametrize("script", [CALLBACK_SCRIPT])
def test_sub_agent_and_send_message_callbacks(harness: Harness) -> None:
    out = harness.run("turn", text="check", callbacks=MORE_CALLBACKS)
    roles = [(m["role"], m["userInput"]) for m in out["messages"]]
    assert roles == [("user", "check"), ("assistant", ""), ("user", "now summarise"),
                     ("assistant", "final after callbacks")]  # fmt: skip
    sub, send = out["messages"][1]["callbackResults"]
    assert sub["callback_type"] == "sub_agent" and sub["subagent_result"] == "sub says ok"
    assert sub["exclude_from_context"] is True and send["callback_type"] == "send_message"
    subagent_prompt = harness.llm.requests[1]["messages"][1]["content"]
    assert subagent_prompt.startswith("review it") and "Tool context" in subagent_prompt
    assert '"tool": "Bash"' in subagent_prompt and "checked" in subagent_prompt
    final_context = harness.llm.requests[2]["messages"]
    assert [m["role"] for m in final_context[1:]] == ["user", "assistant", "tool", "user"]
    assert final_context[-1]["content"] == "now summarise"  # the excluded result stays out


TEXT = "alpha beta gamma delta epsilon zeta"  # streamed in 5-character deltas
STALLED = [{"content": TEXT, "delay": 3}]  # the reply stays in progress for 3 s


def contents(frames: list[dict[str, Any]]) -> list[str]:
    return [f["data"]["content"] for f in frames if f.get("event") == "content"]


@pytest.mark.parametrize("script", [STALLED])
def test_a_reconnect_mid_reply_gets_exactly_the_rest(harness: Harness) -> None:
    out = harness.run("resume", frames=2)
    seen, rest, again = out["first"], out["rest"], out["again"]
    last = seen[-1]["id"]
    assert seen[-1]["event"] == "content" and "." in last  # a live frame's own position
    assert rest[0] == {"event": "connected", "id": last, "data": {"sessionId": out["session"]}}
    assert "".join(contents(seen) + contents(rest)) == TEXT  # no duplicate, no gap
    assert len(contents(seen)) == 2 and len(contents(rest)) == 5  # 7 deltas in all
    assert [position(f["id"]) for f in rest] == sorted(position(f["id"]) for f in rest)
    assert names(rest)[-1] == "complete" and rest[-1]["data"]["content"] == TEXT
    # once the reply is stored its frames are gone: the reply comes whole, once
    assert contents(again) == [TEXT] and names(again)[-1] == "complete"
    auth = {"Authorization": f"Bearer {harness.key}", "Last-Event-ID": last}
    replayed = read_raw(harness, out["session"], auth)
    content = [json.loads(f["data"]) for f in replayed if f.get("event") == "content"]
    assert content == [{"type": "content", "content": TEXT, "replayed": True,
                        "assistantMessageId": content[0]["assistantMessageId"]}]  # fmt: skip
    stored = [f for f in replayed if f.get("event") == "complete"]
    fresh = read_raw(harness, out["session"], {**auth, "Last-Event-ID": stored[0]["id"]})
    assert [f["event"] for f in fresh] == ["connected", "heartbeat"]  # nothing again


def read_raw(harness: Harness, session_id: str, headers: dict[str, str]) -> list[dict[str, str]]:
    """The stream's frames on the wire until the first heartbeat after ``complete`` or,
    when nothing is left to send, the first heartbeat (bounded read: 20 s)."""
    frames: list[dict[str, str]] = []
    with httpx.Client(timeout=20) as http, http.stream(
        "GET", f"{harness.url}/stream", params={"sessionId": session_id}, headers=headers
    ) as res:  # fmt: skip
        current: dict[str, str] = {}
        for line in res.iter_lines():
            if line:
                field, _, value = line.partition(":")
                current[field] = value.strip()
                continue
            frames.append(current)
            current = {}
            if frames[-1].get("event") == "heartbeat":
                break
    return frames
