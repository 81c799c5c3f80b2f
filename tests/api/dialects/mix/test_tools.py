"""Every Mix tool, callbacks and the system prompt, through the real SDK."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from sessionhub.kinds.agent.prompt import BASE
from tests.api.dialects.mix.conftest import Harness

PICTURE = "not really a PNG, but bytes the provider receives"
MEDIA = [
    {"tools": [
        ("ReadMedia", {"file_path": "dot.png", "media_type": "image", "prompt": "What colour?"}),
        ("Show", {"outputs": [{"type": "image", "title": "The dot", "path": "dot.png"},
                              {"type": "markdown", "title": "Note", "data": "# hi"}]}),
        ("Show", {"outputs": [{"type": "image", "title": "Gone", "path": "missing.png"}]}),
        ("Search", {"query": "weather tomorrow"}),
        ("ReadMedia", {"file_path": "talk.mp3", "media_type": "audio", "prompt": "Words?",
                       "audio_mode": "transcript"}),
    ]},
    {"content": "A red dot on white.", "cost": 0.02},  # the provider's look at the image
    {"content": "It is a red dot."},
]  # fmt: skip


@pytest.mark.parametrize("script", [MEDIA])
def test_read_media_show_and_search(harness: Harness) -> None:
    out = harness.run("turn", text="look at dot.png", files={"dot.png": PICTURE, "talk.mp3": "ID3"})
    calls = out["messages"][1]["toolCalls"]
    read, shown, missing, searched, audio = calls
    analysis = json.loads(read["result"])
    assert read["isError"] is False
    assert analysis["results"] == [
        {"file_path": "dot.png", "media_type": "image", "analysis": "A red dot on white."}
    ]
    look = harness.llm.requests[1]["messages"][0]["content"]
    assert look[0]["text"].startswith("What colour?")
    assert look[1]["image_url"]["url"] == (
        "data:image/png;base64," + base64.b64encode(PICTURE.encode()).decode()
    )
    assert "tools" not in harness.llm.requests[1]
    assert shown["isError"] is False and shown["result"] == "Displaying 2 item(s): The dot, Note"
    assert missing["isError"] is True and "missing.png" in missing["result"]
    assert searched["isError"] is True and "no web search provider" in searched["result"]
    assert (
        audio["isError"] is True
        and "images only" in json.loads(audio["result"])["results"][0]["error"]
    )
    assert out["session"]["cost"] == pytest.approx(0.001 + 0.02 + 0.001)  # ReadMedia's look counts
    offered = {t["function"]["name"] for t in harness.llm.requests[0]["tools"]}
    assert {"ReadMedia", "Show", "Search", "ExitPlanMode", "Task", "Bash"} <= offered


PLAN = [
    {"tools": [("Write", {"file_path": "plan.txt", "content": "too early"}),
               ("ReadText", {"file_path": "notes.txt"}),
               ("ExitPlanMode", {"plan": "1. write plan.txt"})]},
    {"tools": [("Write", {"file_path": "plan.txt", "content": "after the plan"})]},
    {"content": "Done."},
]  # fmt: skip


@pytest.mark.parametrize("script", [PLAN])
def test_plan_mode_refuses_changes_until_exit_plan_mode(harness: Harness) -> None:
    out = harness.run("turn", text="plan it", plan_mode=True, files={"notes.txt": "read me"})
    early, reading, exiting = out["messages"][1]["toolCalls"]
    assert early["isError"] is True and "plan mode" in early["result"]
    assert reading["isError"] is False and "read me" in reading["result"]
    assert exiting["isError"] is False and "1. write plan.txt" in exiting["result"]
    (late,) = out["messages"][2]["toolCalls"]
    assert late["isError"] is False
    assert out["files"] == ["notes.txt", "plan.txt"]
    system = harness.llm.requests[0]["messages"][0]["content"]
    assert "Plan mode is on" in system
    assert "Plan mode is on" not in harness.llm.requests[1]["messages"][0]["content"]


@pytest.mark.parametrize("script", [[{"content": "no plan needed"}]])
def test_without_plan_mode_the_prompt_says_nothing_of_it(harness: Harness) -> None:
    harness.run("turn", text="hi")
    assert "Plan mode" not in harness.llm.requests[0]["messages"][0]["content"]
    assert "reasoning_effort" not in harness.llm.requests[0]  # no thinking_level sent


WORK = [
    {"tools": [
        ("Write", {"file_path": "notes/a.txt", "content": "alpha\nbeta\n"}),
        ("Edit", {"file_path": "notes/a.txt", "old_string": "beta", "new_string": "gamma"}),
        ("ReadText", {"file_path": "notes/a.txt", "offset": 2, "limit": 1}),
        ("Glob", {"pattern": "**/*.txt"}),
        ("Grep", {"pattern": "gam+a", "output_mode": "content"}),
        ("TodoWrite", {"todos": [{"id": "1", "content": "edit", "status": "completed"},
                                 {"id": "2", "content": "ship", "status": "pending"}]}),
        ("Bash", {"command": "pwd; echo oops >&2; exit 3"}),
        ("Bash", {"command": "sleep 5", "timeout": 200}),
        ("Bash", {"command": "for i in $(seq 1 5000); do echo line-$i-........; done"}),
        ("Write", {"file_path": "../escape.txt", "content": "no"}),
        ("ReadText", {"file_path": "/etc/hostname"}),
    ]},
    {"content": "Done."},
]  # fmt: skip
ENV = 'echo "$CALLBACK_TOOL_NAME|$CALLBACK_TOOL_ID|$CALLBACK_SESSION_ID"; echo "$CALLBACK_TOOL_RESULT"'
CALLBACKS = [
    {"toolName": "Glob", "type": "bash_script", "name": "env", "bashCommand": ENV},
    {"toolName": "Grep", "type": "bash_script", "name": "slow", "bashCommand": "sleep 5",
     "bashTimeout": 300},
    {"toolName": "glob", "type": "bash_script", "bashCommand": "echo case"},  # names match exactly
    {"toolName": "Show", "type": "bash_script", "bashCommand": "echo never"},
]  # fmt: skip


@pytest.mark.parametrize("script", [WORK])
def test_file_tools_todos_bash_limits_and_callbacks(harness: Harness) -> None:
    out = harness.run("turn", text="work", callbacks=CALLBACKS)
    session_id = out["session"]["id"]
    message = out["messages"][1]
    results = [(c["name"], c["isError"], c["result"]) for c in message["toolCalls"]]
    wrote, edited, read, globbed, grepped, todos, failed, slow, chatty, escape, outside = results
    assert wrote[:2] == ("Write", False) and edited == ("Edit", False, "Replaced 1 occurrence(s)")
    assert read == ("ReadText", False, "     2\tgamma")
    assert globbed == ("Glob", False, "notes/a.txt")
    assert grepped == ("Grep", False, "notes/a.txt:2:gamma")
    assert todos == ("TodoWrite", False, "Todo list updated: 2 items, 1 completed")
    assert failed[1] is True and failed[2].endswith("oops\nExit code 3")
    assert failed[2].splitlines()[0].endswith(f"/{session_id}")  # runs in the session directory
    assert slow[1] is True and "timed out after 0.2 s" in slow[2]
    assert chatty[1] is False and "lines truncated]" in chatty[2] and len(chatty[2]) < 30_100
    assert chatty[2].startswith("line-1-") and chatty[2].endswith("line-5000-........")
    assert escape[1] is True and "outside the session directory" in escape[2]
    assert outside[1] is True and "outside the session directory" in outside[2]
    assert out["files"] == ["notes/a.txt"]
    env, timed_out = message["callbackResults"]  # Glob's and Grep's; none for "glob" or Show
    glob_call = message["toolCalls"][3]
    assert env["callback_name"] == "env" and env["success"] is True
    assert env["stdout"] == f"Glob|{glob_call['id']}|{session_id}\nnotes/a.txt\n"
    assert timed_out["callback_name"] == "slow" and timed_out["success"] is False
    assert "timed out after 0.3 s" in timed_out["error"]
    with httpx.Client(headers={"Authorization": f"Bearer {harness.key}"}) as http:
        native = http.get(f"{harness.server.url}/v1/sessions/{session_id}").json()
    assert [t["status"] for t in native["attributes"]["todos"]] == ["completed", "pending"]


@pytest.mark.parametrize("script", [[{"content": "a"}]])
@pytest.mark.parametrize(
    ("mode", "expected"),
    [("replace", "Only this: apollo"), ("default", BASE), ("append", f"{BASE}\n\nOnly this: apollo")],
)  # fmt: skip
def test_prompt_modes_reach_the_model(harness: Harness, mode: str, expected: str) -> None:
    harness.run("turn", text="hi", prompt_mode=mode, prompt="Only this: $<project>")
    assert harness.llm.requests[0]["messages"][0] == {"role": "system", "content": expected}
