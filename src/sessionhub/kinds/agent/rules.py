"""The agent kind's rules: what a new session, a run, a fork or a rewind may ask.

The Mix dialect and the native API share them. The messages are Mix's own (its
Go server's), in the order Mix checks them, so the Mix dialect returns them as
they are; a rule about one input field raises ``InvalidField`` naming it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeGuard

from pydantic import BaseModel

from sessionhub.core.service import SessionService
from sessionhub.domain.attributes.agent import AgentAttributes, AgentCallback
from sessionhub.domain.errors import Invalid, NotFound, Unsupported
from sessionhub.domain.models import Event, ForkRequest, RewindRequest, Session
from sessionhub.kinds.agent import transcript

KIND = "agent"
BROWSER_MODES = ("electron-embedded-browser", "local-browser-service", "remote-cdp-websocket")
PROMPT_MODES = ("default", "append", "replace")
PROMPT_LIMITS = {"append": 51_200, "replace": 102_400}  # bytes of UTF-8
CALLBACK_TYPES = ("bash_script", "sub_agent", "send_message")
CALLBACK_NEEDS = (("bash_script", "bashCommand"), ("sub_agent", "subAgentPrompt"),
                  ("send_message", "messageContent"))  # fmt: skip
CALLBACK_STRINGS = ("toolName", "type", "bashCommand", "subAgentPrompt", "subAgentType",
                    "messageContent", "name")  # fmt: skip
CALLBACK_BOOLS = ("excludeFromContext", "includeFullHistory")
THINKING_LEVELS = ("off", "basic", "medium", "maximum")
TITLE_LIMIT = 200


class InvalidField(Invalid):
    """One input field breaks a rule; ``field`` names it (as the native API spells it)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}", field=field)
        self.field = field
        self.reason = reason


class MessageNotFound(NotFound):
    """No message with that id in the session."""


class SubagentNotForkable(Unsupported):
    """A subagent session lives inside its parent's turn; it cannot be forked."""


# input fields
def text_field(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidField(name, "must be a string")
    return value


def bool_field(body: Mapping[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidField(name, "must be a boolean")
    return value


def is_count(value: Any, least: int) -> TypeGuard[int]:
    """A JSON integer (not a boolean) of at least ``least``."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


# runs
class RunInput(BaseModel):
    """One turn: the user's message and how the turn may run."""

    text: str
    max_steps: int | None = None
    thinking_level: str | None = None
    plan_mode: bool = False


def run_input(body: Mapping[str, Any]) -> RunInput:
    """A run's input (Mix's send-message body, or ``input`` of a native run), checked."""
    text = text_field(body, "text")
    if not text or not text.strip():
        raise InvalidField("text", "message content is required")
    level = body.get("thinking_level")
    if level is not None and level not in THINKING_LEVELS:
        raise InvalidField("thinking_level", f"must be one of: {', '.join(THINKING_LEVELS)}")
    steps = body.get("max_steps")
    if steps is not None and not is_count(steps, 1):
        raise InvalidField("max_steps", "must be an integer of at least 1")
    plan_mode = bool_field(body, "plan_mode", False)
    return RunInput(text=text, max_steps=steps, thinking_level=level, plan_mode=plan_mode)


# new sessions
@dataclass(frozen=True)
class NewSession:
    """What a client asks of a new main session, as sent (each field still unchecked)."""

    prompt_mode: str = "default"
    custom_prompt: str = ""
    session_type: str | None = None
    subagent_type: str | None = None
    browser_mode: str | None = None
    cdp_url: str | None = None
    callbacks: Any = None


def main_session(new: NewSession) -> AgentAttributes:
    """The attributes of a main session created through an API (never a subagent)."""
    check_prompt(new.prompt_mode, new.custom_prompt)
    if new.session_type and new.session_type != "main":
        raise Invalid(
            "API can only create main sessions. Subagent sessions are created automatically."
        )
    if new.subagent_type:
        raise Invalid(
            "subagentType cannot be set for API-created sessions. Subagent sessions are "
            "created programmatically by the task delegation system."
        )
    mode, cdp = browser(new.browser_mode, new.cdp_url)
    return AgentAttributes(
        browser_mode=mode, prompt_mode=new.prompt_mode, session_type="main",
        custom_system_prompt=new.custom_prompt, callbacks=callbacks(new.callbacks), cdp_url=cdp,
    )  # fmt: skip


def check_prompt(mode: str, prompt: str) -> None:
    if mode not in PROMPT_MODES:
        raise Invalid("promptMode must be 'default', 'append', or 'replace'")
    limit = PROMPT_LIMITS.get(mode)
    size = len(prompt.encode())
    if limit is not None and size > limit:
        raise Invalid(
            f"Custom prompt size ({size // 1024}KB) exceeds {mode} mode limit of {limit // 1024}KB"
        )


def browser(mode: str | None, cdp: str | None) -> tuple[str, str | None]:
    """The browser mode, and the CDP URL to keep: only a remote browser has one, and it
    must be a websocket."""
    if mode is None:
        raise Invalid("browserMode is required")
    if mode not in BROWSER_MODES:
        raise Invalid(f"browserMode must be one of: {', '.join(BROWSER_MODES)}")
    if mode != "remote-cdp-websocket":
        return mode, None
    if not cdp:
        raise Invalid("cdpUrl is required when browserMode is 'remote-cdp-websocket'")
    if not cdp.startswith(("ws://", "wss://")):
        raise Invalid("cdpUrl must start with 'ws://' or 'wss://'")
    return mode, cdp


# callbacks
def callbacks(value: Any) -> list[AgentCallback]:
    """A session's callbacks from JSON; the first bad one is reported (Mix's order)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidField("callbacks", "must be an array")
    return [callback(item) for item in value]


def callback(item: Any) -> AgentCallback:
    if not isinstance(item, dict):
        raise InvalidField("callbacks", "each callback must be an object")
    check_callback_types(item)
    kind = item.get("type")
    if not item.get("toolName"):
        raise InvalidField("callbacks", "missing required field 'toolName'")
    if not kind:
        raise InvalidField("callbacks", "missing required field 'type'")
    if kind not in CALLBACK_TYPES:
        raise InvalidField(
            "callbacks", f"type must be 'bash_script', 'sub_agent', or 'send_message', got '{kind}'"
        )
    for needed, field in CALLBACK_NEEDS:
        if kind == needed and not item.get(field):
            raise InvalidField("callbacks", f"{kind} type requires '{field}' field")
    if kind == "send_message" and item.get("excludeFromContext"):
        raise InvalidField("callbacks", "send_message callbacks cannot be excluded from context")
    return normalised_callback(item)


def check_callback_types(item: dict[str, Any]) -> None:
    """What Go's JSON decoding refuses before ``Validate`` runs: a field of the wrong type."""
    for key in CALLBACK_STRINGS:
        if item.get(key) is not None and not isinstance(item[key], str):
            raise InvalidField("callbacks", f"'{key}' must be a string")
    for key in CALLBACK_BOOLS:
        if item.get(key) is not None and not isinstance(item[key], bool):
            raise InvalidField("callbacks", f"'{key}' must be a boolean")
    timeout = item.get("bashTimeout")
    if timeout is not None and not is_count(timeout, 1):
        raise InvalidField("callbacks", "bashTimeout must be a positive number of milliseconds")


def normalised_callback(item: dict[str, Any]) -> AgentCallback:
    """Every default written out, as Mix stores (and returns) a callback."""
    return AgentCallback(
        tool_name=item["toolName"], type=item["type"],
        bash_timeout=item.get("bashTimeout") or 120_000,
        exclude_from_context=bool(item.get("excludeFromContext", False)),
        include_full_history=bool(item.get("includeFullHistory", False)),
        sub_agent_type=item.get("subAgentType") or "general-purpose",
        bash_command=item.get("bashCommand"), sub_agent_prompt=item.get("subAgentPrompt"),
        message_content=item.get("messageContent"), name=item.get("name"),
    )  # fmt: skip


# messages: fork and rewind addressed by message
def message_positions(events: Sequence[Event]) -> list[int]:
    """Where the transcript's messages are among the events."""
    return [i for i, e in enumerate(events) if e.type == transcript.MESSAGE and e.role is not None]


def message_position(events: Sequence[Event], message_id: str) -> int:
    for i in message_positions(events):
        if events[i].payload.get("id") == message_id:
            return i
    raise MessageNotFound(f"Message with ID '{message_id}' not found")


def message_end(events: Sequence[Event], position: int) -> str | None:
    """The last event of the message at ``position``: everything before the next message
    (its tool calls and results stay with it); None when no message follows."""
    following = [i for i in message_positions(events) if i > position]
    if not following:
        return None
    return events[following[0] - 1].id


def event_at_message(events: Sequence[Event], index: int) -> str | None:
    """The event that ends message number ``index`` (from 0): a fork or rewind there keeps
    messages 0..index with what belongs to them. Message 0 of a session without messages
    is its end (None): a fork there is empty of messages, as Mix's ``messageIndex: 0``."""
    if index < 0:
        raise InvalidField("message_index", "must be a non-negative integer")
    positions = message_positions(events)
    if index == 0 and not positions:
        return None
    if index >= len(positions):
        raise InvalidField(
            "message_index", f"out of range: the session has {len(positions)} messages"
        )
    return message_end(events, positions[index]) or events[-1].id


# ids of a fork's copies
MESSAGE_ID_KEYS = ("messageId", "assistantMessageId")


def renumbered_messages(events: Sequence[Event]) -> dict[int, dict[str, Any]]:
    """New payloads, by seq, that give a fork's copied messages new ids (as Mix's fork).

    A message's id is its payload's ``id``; the other events name it in ``messageId``
    (tool calls and results, callback results, ``complete``, ``user_message_created``)
    or ``assistantMessageId`` (a stored reply), and each such reference follows it.
    Tool call ids stay: they are the model's, and results keep naming their calls.
    """
    new_ids = {
        str(e.payload["id"]): new_message_id()
        for e in events
        if e.type == transcript.MESSAGE and e.payload.get("id")
    }
    changed: dict[int, dict[str, Any]] = {}
    for event in events:
        payload = renamed(event, new_ids)
        if payload != event.payload:
            changed[event.seq] = payload
    return changed


def renamed(event: Event, new_ids: Mapping[str, str]) -> dict[str, Any]:
    keys = (*MESSAGE_ID_KEYS, "id") if event.type == transcript.MESSAGE else MESSAGE_ID_KEYS
    payload = dict(event.payload)
    for key in keys:
        value = payload.get(key)
        if isinstance(value, str) and value in new_ids:
            payload[key] = new_ids[value]
    return payload


def new_message_id() -> str:
    return str(uuid.uuid4())


def fork_attributes() -> AgentAttributes:
    """A fork is a main session with the default prompt (as Mix's own fork)."""
    return AgentAttributes(session_type="main", prompt_mode="default", custom_system_prompt="")


@dataclass
class AgentSessions:
    """Fork and rewind of agent sessions as Mix asks for them, on the service."""

    service: SessionService

    async def fork_at_message(
        self, workspace_id: str, source: Session, index: int, title: str
    ) -> Session:
        """Mix's fork: messages 0..index kept, a main session with the default prompt."""
        if AgentAttributes.of(source).is_subagent:
            raise SubagentNotForkable("cannot fork a subagent session")
        request = ForkRequest(message_index=index, title=title)
        fork = await self.service.fork(workspace_id, source.id, request)
        reset = fork_attributes().stored()
        return await self.service.set_attributes(workspace_id, fork.id, reset)

    async def rewind_to_message(
        self, workspace_id: str, session: Session, message_id: str, *, cleanup_media: bool
    ) -> Session:
        """Keep the message and what belongs to it; drop every later message."""
        events = await self.service.all_events(workspace_id, session.id)
        cut = message_end(events, message_position(events, message_id))
        if cut is None:
            return session
        first_deleted = events[next(i for i, e in enumerate(events) if e.id == cut) + 1]
        rewound = await self.service.rewind(
            workspace_id, session.id, RewindRequest(to_event_id=cut)
        )
        if cleanup_media:
            await self.cleanup_media(workspace_id, session.id, first_deleted.created_at)
        return rewound.session

    async def cleanup_media(self, workspace_id: str, session_id: str, cutoff: datetime) -> None:
        """Mix's ``cleanupMedia``: the files at the top of the session directory modified
        after the first deleted message go; subdirectories are left alone (as Mix)."""
        for info in await self.service.list_files(workspace_id, session_id):
            if "/" not in info.path and info.modified_at > cutoff:
                with contextlib.suppress(NotFound):  # already gone
                    await self.service.delete_file(workspace_id, session_id, info.path)
