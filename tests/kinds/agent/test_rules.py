"""The agent kind's rules, as plain functions: run input, new sessions, callbacks, messages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sessionhub.domain.errors import Invalid, NotFound
from sessionhub.domain.models import Event, Role
from sessionhub.kinds.agent import rules
from tests.kinds.agent.conftest import TRANSCRIPT


def events() -> list[Event]:
    now = datetime.now(UTC)
    return [
        Event(id=f"e{seq}", session_id="s", seq=seq, type=e["type"],
              role=Role(e["role"]) if "role" in e else None, payload=e["payload"], created_at=now)
        for seq, e in enumerate(TRANSCRIPT, 1)
    ]  # fmt: skip


def test_a_good_run_input_is_typed() -> None:
    turn = rules.run_input({"text": "hi", "max_steps": 3, "thinking_level": "basic",
                            "plan_mode": True, "unknown": "ignored"})  # fmt: skip
    assert turn == rules.RunInput(text="hi", max_steps=3, thinking_level="basic", plan_mode=True)
    assert rules.run_input({"text": "hi", "plan_mode": None}).plan_mode is False


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({}, "text", "message content is required"),
        ({"text": "  "}, "text", "message content is required"),
        ({"text": 5}, "text", "must be a string"),
        ({"text": "x", "thinking_level": "max"}, "thinking_level",
         "must be one of: off, basic, medium, maximum"),
        ({"text": "x", "max_steps": 0}, "max_steps", "must be an integer of at least 1"),
        ({"text": "x", "max_steps": True}, "max_steps", "must be an integer of at least 1"),
        ({"text": "x", "max_steps": "3"}, "max_steps", "must be an integer of at least 1"),
        ({"text": "x", "plan_mode": "yes"}, "plan_mode", "must be a boolean"),
    ],
)  # fmt: skip
def test_bad_run_input_names_its_field(body: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(rules.InvalidField) as caught:
        rules.run_input(body)
    assert (caught.value.field, caught.value.reason) == (field, reason)
    assert caught.value.detail == f"{field}: {reason}"


def test_a_main_session_keeps_only_a_remote_browsers_cdp_url() -> None:
    made = rules.main_session(rules.NewSession(browser_mode="remote-cdp-websocket",
                                               cdp_url="wss://x/devtools"))  # fmt: skip
    assert made.cdp_url == "wss://x/devtools" and made.session_type == "main"
    local = rules.main_session(rules.NewSession(browser_mode="local-browser-service",
                                                cdp_url="wss://ignored"))  # fmt: skip
    assert local.cdp_url is None and "cdpUrl" not in local.stored()


@pytest.mark.parametrize(
    ("new", "message"),
    [
        (rules.NewSession(prompt_mode="weird", browser_mode="local-browser-service"),
         "promptMode must be 'default', 'append', or 'replace'"),
        (rules.NewSession(prompt_mode="append", custom_prompt="é" * 25_601,
                          browser_mode="local-browser-service"),
         "Custom prompt size (50KB) exceeds append mode limit of 50KB"),
        (rules.NewSession(session_type="subagent", browser_mode="local-browser-service"),
         "API can only create main sessions. Subagent sessions are created automatically."),
        (rules.NewSession(), "browserMode is required"),
        (rules.NewSession(browser_mode="remote-cdp-websocket", cdp_url="http://x"),
         "cdpUrl must start with 'ws://' or 'wss://'"),
    ],
)  # fmt: skip
def test_a_main_session_refuses(new: rules.NewSession, message: str) -> None:
    with pytest.raises(Invalid, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        rules.main_session(new)


def test_callbacks_are_normalised_with_every_default() -> None:
    (made,) = rules.callbacks([{"toolName": "Bash", "type": "bash_script", "bashCommand": "ls"}])
    assert made.stored() == {
        "toolName": "Bash", "type": "bash_script", "bashCommand": "ls", "bashTimeout": 120_000,
        "excludeFromContext": False, "includeFullHistory": False,
        "subAgentType": "general-purpose",
    }  # fmt: skip
    assert rules.callbacks(None) == []


def test_the_first_bad_callback_is_reported() -> None:
    good: dict[str, Any] = {"toolName": "*", "type": "send_message", "messageContent": "m"}
    with pytest.raises(rules.InvalidField) as caught:
        rules.callbacks([good, {"toolName": "Bash", "type": "sub_agent"}])
    assert caught.value.reason == "sub_agent type requires 'subAgentPrompt' field"
    with pytest.raises(rules.InvalidField, match="must be an array"):
        rules.callbacks({"toolName": "Bash"})


def test_a_message_index_ends_after_what_belongs_to_that_message() -> None:
    log = events()
    assert rules.message_positions(log) == [0, 1, 4, 5, 6]
    assert rules.event_at_message(log, 0) == "e1"
    assert rules.event_at_message(log, 1) == "e4"  # the reply's tool call and result stay
    assert rules.event_at_message(log, 4) == "e7"  # the last message: everything
    with pytest.raises(rules.InvalidField) as caught:
        rules.event_at_message(log, 5)
    assert caught.value.reason == "out of range: the session has 5 messages"
    with pytest.raises(rules.InvalidField, match="non-negative"):
        rules.event_at_message(log, -1)


def test_a_message_by_id() -> None:
    log = events()
    assert rules.message_end(log, rules.message_position(log, "a2")) == "e5"
    assert rules.message_end(log, rules.message_position(log, "a3")) is None
    with pytest.raises(NotFound, match="Message with ID 'nope' not found"):
        rules.message_position(log, "nope")


def test_a_fork_is_a_main_session_with_the_default_prompt() -> None:
    assert rules.fork_attributes().stored() == {
        "sessionType": "main", "promptMode": "default", "customSystemPrompt": "",
    }  # fmt: skip


def test_message_zero_of_a_transcript_without_messages_is_its_end() -> None:
    assert rules.event_at_message([], 0) is None
    with pytest.raises(rules.InvalidField, match="the session has 0 messages"):
        rules.event_at_message([], 1)


def test_a_forks_messages_get_new_ids_and_references_follow_them() -> None:
    log = events()
    changed = rules.renumbered_messages(log)
    assert sorted(changed) == [1, 2, 3, 4, 5, 6, 7]  # every event names a message
    new = {e.payload["id"]: changed[e.seq]["id"] for e in log if e.type == "message"}
    assert len(set(new.values())) == 5 and not set(new) & set(new.values())
    assert changed[3] == {"id": "c1", "name": "Bash", "messageId": new["a1"]}  # call id stays
    assert changed[4]["toolCallId"] == "c1" and changed[4]["messageId"] == new["a1"]
    assert changed[2]["toolCalls"] == [{"id": "c1", "name": "Bash"}]
    assert log[0].payload["id"] == "u1"  # the source's events are not changed


def test_stream_records_follow_their_messages_and_other_ids_stay() -> None:
    now = datetime.now(UTC)
    log = [
        Event(id="e1", session_id="s", seq=1, type="message", role=Role.assistant,
              payload={"id": "m1", "content": "hi"}, created_at=now),
        Event(id="e2", session_id="s", seq=2, type="mix.reply",
              payload={"assistantMessageId": "m1", "content": "hi"}, created_at=now),
        Event(id="e3", session_id="s", seq=3, type="mix.permission",
              payload={"id": "m1", "messageId": "elsewhere"}, created_at=now),
    ]  # fmt: skip
    changed = rules.renumbered_messages(log)
    assert changed[2]["assistantMessageId"] == changed[1]["id"] != "m1"
    assert 3 not in changed  # only a message's own ``id`` is a message id
