"""Mix's request bodies → the agent kind's rules, in the order Mix's Go server checks.

Bodies are parsed leniently (unknown fields ignored) because the SDK always sends
fields a strict parser might not know. What is Mix's alone lives here: the
older TypeScript SDK's create shape, which fields are required, the default
title; every rule is in ``sessionhub.kinds.agent.rules``.
"""

from __future__ import annotations

from typing import Any

from sessionhub.api.dialects.mix.errors import MixError
from sessionhub.domain.attributes.agent import DEFAULT_BROWSER_MODE, AgentAttributes
from sessionhub.kinds.agent import rules
from sessionhub.kinds.agent.rules import InvalidField, text_field


def json_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise MixError("Invalid JSON: the body must be a JSON object", kind="bad_request")
    return body


def create_attributes(body: dict[str, Any]) -> tuple[str, AgentAttributes]:
    """The title and the attributes of a new main session."""
    older = "browserMode" not in body  # the older TypeScript SDK: {title?, workingDirectory?}
    title = text_field(body, "title")
    if not title:
        if not older:
            raise MixError("title is required")
        title = "New Session"
    browser = text_field(body, "browserMode")
    if browser is None and older:
        browser = DEFAULT_BROWSER_MODE
    new = rules.NewSession(
        prompt_mode=text_field(body, "promptMode") or "default",
        custom_prompt=text_field(body, "customSystemPrompt") or "",
        session_type=text_field(body, "sessionType"),
        subagent_type=text_field(body, "subagentType"),
        browser_mode=browser,
        cdp_url=text_field(body, "cdpUrl"), callbacks=body.get("callbacks"),
    )  # fmt: skip
    return title[: rules.TITLE_LIMIT], rules.main_session(new)


def callbacks_update(body: dict[str, Any]) -> list[dict[str, Any]]:
    """``PATCH .../callbacks``: the whole new list, as stored."""
    if "callbacks" not in body:
        raise InvalidField("callbacks", "callbacks is required")
    return [cb.stored() for cb in rules.callbacks(body["callbacks"])]


def message_index(body: dict[str, Any]) -> int:
    index = body.get("messageIndex", 0)
    if not rules.is_count(index, 0):
        raise InvalidField("message_index", "must be a non-negative integer")
    return index
