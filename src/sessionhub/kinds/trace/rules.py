"""Trace sessions (kind ``trace``): threads that group traces, whatever API made them.

A trace session's client-given fields live in its attributes; ``external_id`` is the
session's ``name`` (unique per workspace and kind), so a thread is found by its id or
its external id. The numbers a client reads are a *base* (what the client set) plus
what the session's trace events add up to: tokens, cost, duration and event counts
come from the store's running totals, the input/output cost split and the activity
window from one grouped query over the page's trace events. Both are recomputed by
the store on rewind and fork, so the roll-up is right after either.

Trace events have type ``trace`` (one per trace, counted in ``traces_count``) or
``trace.span`` (a further span of a trace); their payload holds ``name``, ``start``,
``end`` (RFC 3339 UTC), ``attributes``, ``input_cost`` and ``output_cost``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sessionhub.core.service import SessionService
from sessionhub.domain.attributes.trace import TraceAttributes, iso_millis
from sessionhub.domain.errors import NotFound
from sessionhub.domain.models import (
    Condition,
    EventCreate,
    Page,
    Session,
    SessionCreate,
    SessionQuery,
    SessionUpdate,
)

KIND = "trace"
TRACE = "trace"
SPAN = "trace.span"
NUMBERS = (
    "duration", "input_cost", "output_cost", "total_cost",
    "prompt_tokens", "completion_tokens", "total_tokens", "traces_count",
)  # fmt: skip
LISTS = ("tags", "contact_ids")
ROLLUP_KEYS = ("input_cost", "output_cost", "start", "end")


def as_utc(value: datetime) -> datetime:
    """Naive datetimes are UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


iso = iso_millis


@dataclass
class ThreadSpec:
    """Fields a client sets; ``None`` leaves a field as it is (create: default)."""

    external_id: str | None = None
    title: str | None = None
    numbers: dict[str, float] = field(default_factory=dict)
    texts: dict[str, str | None] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)
    started_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass
class Thread:
    session: Session
    external_id: str
    numbers: dict[str, float]
    tags: list[str]
    contact_ids: list[str]
    texts: dict[str, str]
    started_at: datetime
    updated_at: datetime

    @property
    def id(self) -> str:
        return self.session.id


@dataclass
class ThreadFilter:
    """What the Orq list and count operations can ask for, in store terms."""

    conditions: list[Condition] = field(default_factory=list)
    active_after: datetime | None = None
    active_before: datetime | None = None
    order_by: Literal["created_at", "updated_at", "name"] = "created_at"
    descending: bool = True


def _rolled(session: Session, rollup: dict[str, Any]) -> dict[str, float]:
    t = session.totals
    return {
        "duration": float(t.duration_ms),
        "input_cost": float(rollup.get("sum_input_cost") or 0.0),
        "output_cost": float(rollup.get("sum_output_cost") or 0.0),
        "total_cost": t.cost,
        "prompt_tokens": float(t.input_tokens),
        "completion_tokens": float(t.output_tokens),
        "total_tokens": float(t.input_tokens + t.output_tokens),
        "traces_count": float(t.by_type.get(TRACE, 0)),
    }


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def _texts(attrs: TraceAttributes) -> dict[str, str]:
    values = {"project_id": attrs.project_id, "client": attrs.client, "repo": attrs.repo,
              "thread_kind": attrs.thread_kind}  # fmt: skip
    return {k: v for k, v in values.items() if v is not None}


def build_thread(session: Session, rollup: dict[str, Any]) -> Thread:
    attrs = TraceAttributes.of(session)
    rolled = _rolled(session, rollup)
    numbers = {k: attrs.base.get(k, 0.0) + rolled[k] for k in NUMBERS}
    started = [as_utc(d) for d in (attrs.started_at, _parse(rollup.get("min_start"))) if d]
    ended = [as_utc(d) for d in (attrs.updated_at, _parse(rollup.get("max_end"))) if d]
    return Thread(
        session=session,
        external_id=session.name or session.id,
        numbers=numbers,
        tags=attrs.tags or [],
        contact_ids=attrs.contact_ids or [],
        texts=_texts(attrs),
        started_at=min(started) if started else as_utc(session.created_at),
        updated_at=max(ended) if ended else as_utc(session.updated_at),
    )


class TraceSessions:
    """The trace-session rules, on top of the service."""

    def __init__(self, service: SessionService) -> None:
        self.service = service

    async def _threads(self, sessions: list[Session]) -> list[Thread]:
        rollups = await self.service.payload_rollups(
            [s.id for s in sessions], [TRACE, SPAN], ROLLUP_KEYS
        )
        return [build_thread(s, rollups.get(s.id, {})) for s in sessions]

    async def find(self, workspace_id: str, ref: str) -> Session:
        """By external id first, then by id; only trace sessions."""
        query = SessionQuery(kind=KIND, name=ref, include_children=True, limit=1)
        found = await self.service.list_sessions(workspace_id, query)
        if found.items:
            return found.items[0]
        try:
            session = await self.service.get(workspace_id, ref)
        except NotFound:
            session = None
        if session is None or session.kind != KIND:
            raise NotFound(f"session {ref} not found")
        return session

    async def get(self, workspace_id: str, ref: str) -> Thread:
        return (await self._threads([await self.find(workspace_id, ref)]))[0]

    async def create(self, workspace_id: str, spec: ThreadSpec) -> Thread:
        attributes = self._attributes(spec, rolled=None)
        create = SessionCreate(
            kind=KIND, name=spec.external_id, title=spec.title, attributes=attributes
        )
        session = (await self.service.create(workspace_id, create)).session
        if spec.external_id is None:
            named = SessionUpdate(name=session.id)
            session = await self.service.update(workspace_id, session.id, named, if_version=None)
        return (await self._threads([session]))[0]

    async def update(self, workspace_id: str, ref: str, spec: ThreadSpec) -> Thread:
        current = await self.get(workspace_id, ref)
        session = current.session
        rolled = _rolled(session, await self._rollup(session))
        patch: dict[str, Any] = {}
        if spec.external_id is not None:
            patch["name"] = spec.external_id
        if spec.title is not None:
            patch["title"] = spec.title
        if patch:
            session = await self.service.update(
                workspace_id, session.id, SessionUpdate(**patch), if_version=None
            )
        base = TraceAttributes.of(session).base
        attributes = self._attributes(spec, rolled=rolled, base=base)
        if attributes:
            session = await self.service.set_attributes(workspace_id, session.id, attributes)
        return (await self._threads([session]))[0]

    async def _rollup(self, session: Session) -> dict[str, Any]:
        rollups = await self.service.payload_rollups([session.id], [TRACE, SPAN], ROLLUP_KEYS)
        return rollups.get(session.id, {})

    @staticmethod
    def _attributes(
        spec: ThreadSpec, *, rolled: dict[str, float] | None, base: dict[str, float] | None = None
    ) -> dict[str, Any]:
        """Attributes to write; a number the client sets is what it will read back."""
        out: dict[str, Any] = {}
        if spec.numbers or rolled is None:
            merged = dict(base or {})
            for key, value in spec.numbers.items():
                merged[key] = value - (rolled or {}).get(key, 0.0)
            out["base"] = merged
        out.update(spec.texts)
        out.update(spec.lists)
        if rolled is None:
            for key in LISTS:
                out.setdefault(key, [])
        if spec.started_at is not None:
            out["started_at"] = spec.started_at
        if spec.updated_at is not None:
            out["updated_at"] = spec.updated_at
        return TraceAttributes.parse(out).stored()

    async def delete(self, workspace_id: str, ref: str) -> None:
        session = await self.find(workspace_id, ref)
        await self.service.delete(workspace_id, session.id)

    def _query(self, flt: ThreadFilter, **paging: Any) -> SessionQuery:
        return SessionQuery(
            kind=KIND,
            include_children=True,
            where=flt.conditions,
            updated_after=flt.active_after,
            updated_before=flt.active_before,
            order_by=flt.order_by,
            descending=flt.descending,
            **paging,
        )

    async def page(
        self, workspace_id: str, flt: ThreadFilter, *, limit: int, offset: int = 0,
        cursor: str | None = None,
    ) -> tuple[list[Thread], bool]:  # fmt: skip
        query = self._query(flt, limit=limit, offset=offset, cursor=cursor)
        page: Page[Session] = await self.service.list_sessions(workspace_id, query)
        return await self._threads(page.items), page.next_cursor is not None

    async def list_around(
        self, workspace_id: str, flt: ThreadFilter, at: datetime, *, newer: bool, limit: int
    ) -> tuple[list[Thread], bool]:
        """The page just newer or just older than ``at`` (a creation time)."""
        query = self._query(flt, limit=limit)
        bound = {"created_after": at} if newer else {"created_before": at}
        page = await self.service.list_sessions(workspace_id, query.model_copy(update=bound))
        return await self._threads(page.items), page.next_cursor is not None

    async def count(self, workspace_id: str, flt: ThreadFilter) -> int:
        return await self.service.count_sessions(workspace_id, self._query(flt))

    async def tags(self, workspace_id: str) -> list[str]:
        return await self.service.attribute_values(workspace_id, KIND, "tags")

    async def boundary(self, workspace_id: str, ref: str) -> datetime:
        """When the named thread was created: a list boundary for ``lastId``/``firstId``."""
        return as_utc((await self.find(workspace_id, ref)).created_at)

    # traces
    async def record(
        self, workspace_id: str, ref: str, events: list[EventCreate], *, create: bool = True
    ) -> Thread:
        """Append trace events to the thread ``ref`` names, creating it if asked and missing."""
        try:
            session = await self.find(workspace_id, ref)
        except NotFound:
            if not create:
                raise
            session = (await self.create(workspace_id, ThreadSpec(external_id=ref))).session
        await self.service.append(workspace_id, session.id, events)
        return await self.get(workspace_id, session.id)
