"""The attributes of a ``trace`` session (a thread of traces): the fields a client sets.

The numbers a client reads are ``base`` plus what the session's trace events add up
to (see ``sessionhub.kinds.trace.rules``); ``base`` holds, per number, what the client
set minus the roll-up at that moment. Keys the client adds of its own are kept.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import Field, field_serializer

from sessionhub.domain.attributes.base import KindAttributes


def iso_millis(value: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as Orq writes its times."""
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TraceAttributes(KindAttributes):
    base: dict[str, float] = Field(default_factory=dict)
    tags: list[str] | None = None
    contact_ids: list[str] | None = None
    project_id: str | None = None
    client: str | None = None
    repo: str | None = None
    thread_kind: str | None = None
    started_at: datetime | None = None
    updated_at: datetime | None = None

    @field_serializer("started_at", "updated_at")
    def _millis(self, value: datetime | None) -> str | None:
        return None if value is None else iso_millis(value)
