"""The attributes of a ``trace`` session (a thread of traces): the fields a client sets.

The numbers a client reads are ``base`` plus what the session's trace events add up
to (see ``sessionhub.kinds.trace.rules``); ``base`` holds, per number, what the client
set minus the roll-up at that moment. Keys the client adds of its own are kept.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer

from sessionhub.domain.errors import Invalid
from sessionhub.domain.models import Session


def iso_millis(value: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as Orq writes its times."""
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TraceAttributes(BaseModel):
    model_config = ConfigDict(extra="allow")

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

    @classmethod
    def of(cls, session: Session) -> TraceAttributes:
        return cls.parse(session.attributes)

    @classmethod
    def parse(cls, attributes: dict[str, Any]) -> TraceAttributes:
        """The typed view of stored attributes; a bad value is the client's error (400)."""
        try:
            return cls.model_validate(attributes)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise Invalid(f"attributes.{where}: {first['msg']}") from None

    def changes(self) -> dict[str, Any]:
        """The fields set on this instance, as JSON, to merge into the stored attributes."""
        return self.model_dump(mode="json", exclude_unset=True)
