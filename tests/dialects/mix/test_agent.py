"""Agent turns through the real SDK, driven by the scripted fake LLM."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.dialects.mix.conftest import Harness

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


@pytest.mark.parametrize("script", [TWO_TOOLS])
def test_turn_with_two_tools_and_a_callback(harness: Harness) -> None:
    out = harness.run("turn", text="write and read", callbacks=[CALLBACK], replay_from=0,
                      prompt_mode="append", prompt="Project: $<project>")  # fmt: skip
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
    session = out["session"]
    assert (session["userMessageCount"], session["assistantMessageCount"]) == (1, 2)
    assert session["toolCallCount"] == 2 and session["promptTokens"] == 250
    assert session["cost"] == pytest.approx(0.75)
    assert session["firstUserMessage"] == "write and read"
    assert out["files"] == ["out.txt"]
    replayed = names(out["replay"])
    assert replayed[1:] == seen[1:]  # Last-Event-ID: 0 replays the whole turn
    system = harness.llm.requests[0]["messages"][0]
    assert system["role"] == "system" and system["content"].endswith("Project: apollo")
    second = harness.llm.requests[1]["messages"]
    assert [m["role"] for m in second[1:]] == ["user", "assistant", "tool", "tool", "user"]
    with httpx.Client(headers={"Authorization": f"Bearer {harness.key}"}) as http:
        native = http.get(f"{harness.server.url}/v1/sessions/{session['id']}").json()
        assert native["kind"] == "agent" and native["totals"]["tool_calls"] == 2


@pytest.mark.parametrize("script", [[{"content": "slow", "delay": 30}]])
def test_cancel_mid_request(harness: Harness) -> None:
    out = harness.run("turn", text="take your time", cancel_after=1.0)
    cancel = next(f for f in out["frames"] if "cancel" in f)
    assert cancel["cancel"]["cancelled"] is True and cancel["cancel_seconds"] < 1.0
    last = [f for f in out["frames"] if "event" in f][-1]
    assert last["event"] == "error" and last["data"]["type"] == "cancelled"
    _user, partial = out["messages"]
    assert partial["role"] == "assistant" and partial["assistantResponse"] == "slow"


@pytest.mark.parametrize("script", [[{"tools": [("Bash", {"command": "sleep 30"})]}]])
def test_cancel_mid_tool(harness: Harness) -> None:
    out = harness.run("turn", text="sleep", cancel_after=1.5)
    cancel = next(f for f in out["frames"] if "cancel" in f)
    assert cancel["cancel"]["cancelled"] is True and cancel["cancel_seconds"] < 1.0
    (_, assistant) = out["messages"]
    (call,) = assistant["toolCalls"]
    assert call["isError"] is True and call["result"] == "cancelled"


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
    {"tools": [("Write", {"file_path": "late.txt", "content": "made in turn two"})]},
    {"content": "second answer"},
]


@pytest.mark.parametrize("script", [TWO_TURNS])
def test_rewind_with_media_cleanup_fork_and_history(harness: Harness) -> None:
    out = harness.run("turn", text="one", second_text="two", files={"early.txt": "kept"})
    messages = out["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "assistant"]
    assert [m["userInput"] for m in out["history"]][:2] == ["two", "one"]
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
        bad = http.post(f"/api/sessions/{session_id}/fork", json={"messageIndex": -1})
        assert bad.status_code == 400 and bad.json()["error"]["type"] == "validation_error"
    rewound = harness.run("rewind", session=session_id, message=messages[1]["id"])
    assert rewound["rewound"]["userMessageCount"] == 1
    assert [m["id"] for m in rewound["messages"]] == [m["id"] for m in messages[:2]]
    assert rewound["files"] == ["early.txt"]  # late.txt came after the first deleted message
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
    assert "review it" in harness.llm.requests[1]["messages"][1]["content"]
    final_context = harness.llm.requests[2]["messages"]
    assert [m["role"] for m in final_context[1:]] == ["user", "assistant", "tool", "user"]
    assert final_context[-1]["content"] == "now summarise"  # the excluded result stays out
