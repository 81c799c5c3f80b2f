"""Mix's request rules, checked in the order Mix's Go server checks them.

Bodies are parsed leniently (unknown fields ignored) because the SDK always sends
fields a strict parser might not know; each rule answers with Mix's own message.
"""

from __future__ import annotations

from typing import Any

from sessionhub.api.dialects.mix.errors import MixError, field_error

BROWSER_MODES = ("electron-embedded-browser", "local-browser-service", "remote-cdp-websocket")
DEFAULT_BROWSER_MODE = "local-browser-service"
PROMPT_MODES = ("default", "append", "replace")
PROMPT_LIMITS = {"append": 51_200, "replace": 102_400}
CALLBACK_TYPES = ("bash_script", "sub_agent", "send_message")
THINKING_LEVELS = ("off", "basic", "medium", "maximum")
TITLE_LIMIT = 200


def text_field(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise field_error(name, "must be a string")
    return value


def bool_field(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise field_error(name, "must be a boolean")
    return value


def json_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise MixError("Invalid JSON: the body must be a JSON object", kind="bad_request")
    return body


def create_attributes(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The title and the Mix attributes of a new main session."""
    older = "browserMode" not in body  # the older TypeScript SDK: {title?, workingDirectory?}
    title = text_field(body, "title")
    if not title:
        if not older:
            raise MixError("title is required")
        title = "New Session"
    mode = text_field(body, "promptMode") or "default"
    if mode not in PROMPT_MODES:
        raise MixError("promptMode must be 'default', 'append', or 'replace'")
    prompt = text_field(body, "customSystemPrompt") or ""
    check_prompt_size(mode, prompt)
    session_type = text_field(body, "sessionType")
    if session_type and session_type != "main":
        raise MixError(
            "API can only create main sessions. Subagent sessions are created automatically."
        )
    if text_field(body, "subagentType"):
        raise MixError(
            "subagentType cannot be set for API-created sessions. Subagent sessions are "
            "created programmatically by the task delegation system."
        )
    browser, cdp = browser_fields(body, older)
    attributes: dict[str, Any] = {
        "browserMode": browser, "promptMode": mode, "customSystemPrompt": prompt,
        "sessionType": "main", "callbacks": callbacks(body.get("callbacks")),
    }  # fmt: skip
    if cdp:
        attributes["cdpUrl"] = cdp
    return title[:TITLE_LIMIT], attributes


def check_prompt_size(mode: str, prompt: str) -> None:
    limit = PROMPT_LIMITS.get(mode)
    size = len(prompt.encode())
    if limit is not None and size > limit:
        raise MixError(
            f"Custom prompt size ({size // 1024}KB) exceeds {mode} mode limit of {limit // 1024}KB"
        )


def browser_fields(body: dict[str, Any], older: bool) -> tuple[str, str | None]:
    browser = text_field(body, "browserMode")
    if browser is None:
        if not older:
            raise MixError("browserMode is required")
        browser = DEFAULT_BROWSER_MODE
    if browser not in BROWSER_MODES:
        raise MixError(f"browserMode must be one of: {', '.join(BROWSER_MODES)}")
    cdp = text_field(body, "cdpUrl")
    if browser == "remote-cdp-websocket":
        if not cdp:
            raise MixError("cdpUrl is required when browserMode is 'remote-cdp-websocket'")
        if not cdp.startswith(("ws://", "wss://")):
            raise MixError("cdpUrl must start with 'ws://' or 'wss://'")
        return browser, cdp
    return browser, None


def callbacks(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise field_error("callbacks", "must be an array")
    return [callback(item) for item in value]


def callback(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise field_error("callbacks", "each callback must be an object")
    check_callback_types(item)
    kind = item.get("type")
    if not item.get("toolName"):
        raise field_error("callbacks", "missing required field 'toolName'")
    if not kind:
        raise field_error("callbacks", "missing required field 'type'")
    if kind not in CALLBACK_TYPES:
        raise field_error(
            "callbacks", f"type must be 'bash_script', 'sub_agent', or 'send_message', got '{kind}'"
        )
    for needed, field in (("bash_script", "bashCommand"), ("sub_agent", "subAgentPrompt"),
                          ("send_message", "messageContent")):  # fmt: skip
        if kind == needed and not item.get(field):
            raise field_error("callbacks", f"{kind} type requires '{field}' field")
    if kind == "send_message" and item.get("excludeFromContext"):
        raise field_error("callbacks", "send_message callbacks cannot be excluded from context")
    return normalised_callback(item)


CALLBACK_STRINGS = ("toolName", "type", "bashCommand", "subAgentPrompt", "subAgentType",
                    "messageContent", "name")  # fmt: skip
CALLBACK_BOOLS = ("excludeFromContext", "includeFullHistory")


def check_callback_types(item: dict[str, Any]) -> None:
    """What Go's JSON decoding refuses before ``Validate`` runs: a field of the wrong type."""
    for key in CALLBACK_STRINGS:
        if item.get(key) is not None and not isinstance(item[key], str):
            raise field_error("callbacks", f"'{key}' must be a string")
    for key in CALLBACK_BOOLS:
        if item.get(key) is not None and not isinstance(item[key], bool):
            raise field_error("callbacks", f"'{key}' must be a boolean")
    timeout = item.get("bashTimeout")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0
    ):
        raise field_error("callbacks", "bashTimeout must be a positive number of milliseconds")


def normalised_callback(item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "toolName": item["toolName"], "type": item["type"],
        "bashTimeout": item.get("bashTimeout") or 120_000,
        "excludeFromContext": bool(item.get("excludeFromContext", False)),
        "includeFullHistory": bool(item.get("includeFullHistory", False)),
        "subAgentType": item.get("subAgentType") or "general-purpose",
    }  # fmt: skip
    for key in ("bashCommand", "subAgentPrompt", "messageContent", "name"):
        if item.get(key) is not None:
            out[key] = item[key]
    return out


def send_input(body: dict[str, Any]) -> dict[str, Any]:
    text = text_field(body, "text")
    if not text or not text.strip():
        raise field_error("content", "message content is required")
    level = body.get("thinking_level")
    if level is not None and level not in THINKING_LEVELS:
        raise field_error("thinking_level", f"must be one of: {', '.join(THINKING_LEVELS)}")
    steps = body.get("max_steps")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise field_error("max_steps", "must be an integer of at least 1")
    return {
        "text": text, "max_steps": steps, "thinking_level": level,
        "plan_mode": bool_field(body, "plan_mode", False),
    }  # fmt: skip
