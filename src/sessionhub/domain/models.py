"""Domain models: what the service takes and returns, independent of storage rows."""

from __future__ import annotations

import enum
import re
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

T = TypeVar("T")


NUL_REFUSED = "must not contain NUL characters (\\u0000): PostgreSQL cannot store them"
SURROGATE_REFUSED = "must not contain lone UTF-16 surrogates (\\ud800-\\udfff): they are not text"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")


def _storable(value: dict[str, Any]) -> dict[str, Any]:
    """JSON we can store and send back on either database: integers within 64 bits,
    no NaN or infinity, no NUL in any string or key."""
    try:
        dumped = orjson.dumps(value)
    except TypeError as exc:
        raise ValueError(f"not storable as JSON: {exc}") from None
    if b"\\u0000" in dumped:
        raise ValueError(f"JSON strings {NUL_REFUSED}")
    text = repr(value)
    if "nan" in text or "inf" in text:
        _reject_non_finite(value)
    return value


def _reject_non_finite(value: Any) -> None:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        raise ValueError("NaN and infinity are not JSON")
    if isinstance(value, dict):
        for item in value.values():
            _reject_non_finite(item)
    elif isinstance(value, list):
        for item in value:
            _reject_non_finite(item)


def unstorable_text(value: str) -> str | None:
    """Why neither database can hold ``value`` (and no JSON encoder can write it), or
    ``None``: the one check of text from outside. A lone surrogate comes from a
    ``"\\ud800"`` escape in JSON that a lenient decoder let through."""
    if "\x00" in value:
        return NUL_REFUSED
    if _SURROGATE.search(value):
        return SURROGATE_REFUSED
    return None


def _storable_text(value: str) -> str:
    reason = unstorable_text(value)
    if reason is not None:
        raise ValueError(f"the text {reason}")
    return value


def without_nul(value: Any) -> Any:
    """``value`` with each NUL character in its strings (keys too) replaced by U+FFFD:
    for what a driver records from the outside world (a cell or a tool may print one)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    return value


Json = Annotated[dict[str, Any], AfterValidator(_storable)]
Text = Annotated[str, AfterValidator(_storable_text)]
# An id from outside (a parent, a cursor, an event): looked up, so storable text too.
Id = Annotated[str, StringConstraints(max_length=200), AfterValidator(_storable_text)]
Name = Annotated[
    str, StringConstraints(min_length=1, max_length=200), AfterValidator(_storable_text)
]
Title = Annotated[str, StringConstraints(max_length=1000), AfterValidator(_storable_text)]
# A count or position from outside: what a 64-bit database integer holds.
Count = Annotated[int, Field(ge=0, le=INT64_MAX)]
Kind = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]
EventType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SessionStatus(enum.StrEnum):
    idle = "idle"
    running = "running"
    ended = "ended"
    failed = "failed"


class Role(enum.StrEnum):
    user = "user"
    assistant = "assistant"
    system = "system"
    tool = "tool"


class RunStatus(enum.StrEnum):
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"
    interrupted = "interrupted"


class Totals(Model):
    """Running totals, kept current on every append and rewind."""

    events: int = 0
    messages: int = 0
    tool_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    duration_ms: int = 0
    by_type: dict[str, int] = Field(default_factory=dict)
    by_role: dict[str, int] = Field(default_factory=dict)


class Session(Model):
    id: str
    workspace_id: str
    kind: str
    name: str | None = None
    title: str | None = None
    parent_id: str | None = None
    forked_from: str | None = None
    forked_at_event: str | None = None
    status: SessionStatus = SessionStatus.idle
    attributes: Json = Field(default_factory=dict)
    metadata: Json = Field(default_factory=dict)
    totals: Totals = Field(default_factory=Totals)
    last_seq: int = 0
    version: int = 1
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = None


class Event(Model):
    id: str
    session_id: str
    seq: int
    type: str
    role: Role | None = None
    payload: Json = Field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    duration_ms: int = 0
    created_at: datetime


class Page(Model, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class SessionCreate(Model):
    kind: Kind = "generic"
    name: Name | None = None
    title: Title | None = None
    parent_id: Id | None = None
    attributes: Json = Field(default_factory=dict)
    metadata: Json = Field(default_factory=dict)
    ttl_seconds: Annotated[int, Field(gt=0, le=10 * 365 * 86400)] | None = None


class SessionUpdate(Model):
    """A partial update: only the fields that are set change; ``null`` clears."""

    title: Title | None = None
    name: Name | None = None
    metadata: Json | None = None
    ttl_seconds: Annotated[int, Field(gt=0, le=10 * 365 * 86400)] | None = None
    status: SessionStatus | None = None


class EventCreate(Model):
    type: EventType
    role: Role | None = None
    payload: Json = Field(default_factory=dict)
    input_tokens: Count = 0
    output_tokens: Count = 0
    cost: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    duration_ms: Count = 0


class EventAppend(EventCreate):
    expected_seq: Count | None = None


class EventBatch(Model):
    events: Annotated[list[EventCreate], Field(min_length=1, max_length=1000)]
    expected_seq: Count | None = None


class EventList(Model):
    items: list[Event]


# A message's number (from 0) in a transcript, for kinds whose rules address messages.
MessageIndex = Count


class ForkRequest(Model):
    """Fork at an event (``at_event_id``), after a message (``message_index``: that message
    and what belongs to it are the fork's last), or at the end (neither)."""

    at_event_id: Id | None = None
    message_index: MessageIndex | None = None
    title: Title | None = None
    name: Name | None = None
    metadata: Json | None = None


class RewindRequest(Model):
    """Keep the events up to ``to_event_id``, or up to the end of message ``message_index``
    (exactly one of the two)."""

    to_event_id: Id | None = None
    message_index: MessageIndex | None = None
    cleanup_files: bool = False


class ExecuteRequest(Model):
    """``POST /v1/sessions/{id}/execute``: code for a kernel session."""

    code: Annotated[str, StringConstraints(max_length=1_000_000)]
    timeout: Annotated[float, Field(gt=0, le=86_400, allow_inf_nan=False)] = 60.0


class RewindResult(Model):
    session: Session
    deleted_events: int
    deleted_files: list[str] = Field(default_factory=list)


class Condition(Model):
    """One filter on sessions: true when any field matches any value.

    Fields are ``id``, ``name``, ``title`` or ``attributes.<key>`` (a top-level
    attribute). ``eq`` is equality, ``contains`` a case-insensitive substring,
    ``any`` membership in an attribute holding an array of strings.
    """

    fields: Annotated[list[Text], Field(min_length=1, max_length=10)]
    op: Literal["eq", "contains", "any"]
    values: Annotated[list[Text], Field(min_length=1, max_length=100)]


class SessionQuery(Model):
    kind: Text | None = None
    parent_id: Id | None = None
    forked_from: Id | None = None  # the forks of this session
    status: SessionStatus | None = None
    name: Text | None = None
    metadata: dict[Text, Text] = Field(default_factory=dict)
    created_after: datetime | None = None
    created_before: datetime | None = None
    include_children: bool = False
    limit: Count = 50
    cursor: Text | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    where: list[Condition] = Field(default_factory=list)
    order_by: Literal["created_at", "updated_at", "name"] = "created_at"
    descending: bool = True
    offset: Count = 0


class Run(Model):
    id: str
    session_id: str
    driver: str
    status: RunStatus
    input: Json = Field(default_factory=dict)
    error: str | None = None
    started_at: datetime
    ended_at: datetime | None = None


class RunCreate(Model):
    input: Json = Field(default_factory=dict)


class CancelResult(Model):
    cancelled: bool
    run_id: str | None = None


class FileInfo(Model):
    path: str
    size: int
    modified_at: datetime


class FileList(Model):
    items: list[FileInfo]


class ApiKey(Model):
    id: str
    workspace_id: str
    name: str
    prefix: str
    admin: bool = False
    created_at: datetime
    revoked_at: datetime | None = None


class ApiKeyList(Model):
    items: list[ApiKey]


class ApiKeyCreate(Model):
    name: Name = "key"
    admin: bool = False


class ApiKeyCreated(ApiKey):
    key: str = Field(description="The secret; shown once, stored only as a hash.")


class Principal(Model):
    """Who is calling: the key's workspace and scope."""

    workspace_id: str
    key_id: str | None = None
    admin: bool = False


class Workspace(Model):
    id: str
    name: str
    created_at: datetime
