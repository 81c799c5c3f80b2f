"""``AgentAttributes``: Mix's session fields, typed, read from and written to ``attributes``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sessionhub.domain.attributes.agent import AgentAttributes, AgentCallback
from sessionhub.domain.models import Session


def session(attributes: dict[str, Any]) -> Session:
    now = datetime.now(UTC)
    return Session(id="s", workspace_id="w", kind="agent", attributes=attributes,
                   created_at=now, updated_at=now)  # fmt: skip


def test_stored_keys_read_typed() -> None:
    attrs = AgentAttributes.of(session({
        "browserMode": "remote-cdp-websocket", "cdpUrl": "ws://x", "promptMode": "append",
        "customSystemPrompt": "be brief", "sessionType": "subagent",
        "parentToolCallId": "c1", "firstUserMessage": "hi",
        "callbacks": [{"toolName": "Bash", "type": "bash_script", "bashCommand": "ls"}],
    }))  # fmt: skip
    assert (attrs.browser_mode, attrs.cdp_url, attrs.prompt_mode) == (
        "remote-cdp-websocket", "ws://x", "append",
    )  # fmt: skip
    assert attrs.is_subagent and attrs.parent_tool_call_id == "c1"
    assert attrs.callbacks == [AgentCallback(tool_name="Bash", type="bash_script",
                                             bash_command="ls")]  # fmt: skip
    assert attrs.callbacks[0].bash_timeout == 120_000


def test_defaults_for_a_session_made_elsewhere() -> None:
    attrs = AgentAttributes.of(session({}))
    assert attrs.browser_mode == "local-browser-service" and attrs.prompt_mode == "default"
    assert not attrs.is_subagent and attrs.callbacks == [] and attrs.first_user_message is None


def test_a_value_of_the_wrong_shape_reads_as_unset_and_others_survive() -> None:
    attrs = AgentAttributes.of(session({"callbacks": "nope", "sessionType": "robot",
                                        "customSystemPrompt": None, "promptMode": "replace",
                                        "team": "a"}))  # fmt: skip
    assert attrs.callbacks == [] and attrs.session_type == "main"
    assert attrs.custom_system_prompt == "" and attrs.prompt_mode == "replace"
    assert attrs.model_extra == {"team": "a"}


def test_stored_writes_only_what_was_given_under_mixs_keys() -> None:
    assert AgentAttributes(first_user_message="hi").stored() == {"firstUserMessage": "hi"}
    assert AgentAttributes(todos=[{"id": "1"}]).stored() == {"todos": [{"id": "1"}]}
    made = AgentAttributes(session_type="subagent", parent_tool_call_id="c", cdp_url=None)
    assert made.stored() == {"sessionType": "subagent", "parentToolCallId": "c"}
