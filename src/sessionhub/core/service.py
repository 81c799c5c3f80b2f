"""SessionService: every business rule, once, for every API surface."""

from __future__ import annotations

import logging
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Mapping,
    Sequence,
)
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sessionhub.core.bus import CaughtUp, EventBus, Idle, Listener, LiveMessages
from sessionhub.core.ports import Capability, Driver
from sessionhub.core.registry import DriverRegistry
from sessionhub.core.runs import RunSupervisor
from sessionhub.domain.errors import Invalid, Unsupported
from sessionhub.domain.models import (
    CancelResult,
    Event,
    EventCreate,
    FileInfo,
    ForkRequest,
    Page,
    RewindRequest,
    RewindResult,
    Run,
    Session,
    SessionCreate,
    SessionQuery,
    SessionUpdate,
)
from sessionhub.files import OpenFile, SessionFiles
from sessionhub.store.base import Created, PayloadRewrite, SessionStore

log = logging.getLogger(__name__)
FOLLOW_PAGE = 500  # events per read while a follower catches up
Followed = Event | LiveMessages | CaughtUp | Idle


@dataclass
class SessionService:
    store: SessionStore
    files: SessionFiles
    drivers: DriverRegistry
    bus: EventBus
    runs: RunSupervisor

    def _driver(self, session: Session, capability: Capability | None = None) -> Driver:
        driver = self.drivers.get(session.kind)
        if capability is not None and capability not in driver.capabilities:
            raise Unsupported(f"{session.kind} sessions do not support {capability.value}")
        return driver

    # sessions
    async def create(
        self,
        workspace_id: str,
        spec: SessionCreate,
        *,
        idempotency_key: str | None = None,
        if_exists: str = "error",
    ) -> Created:
        driver = self.drivers.get(spec.kind)
        created = await self.store.create_session(
            workspace_id=workspace_id,
            spec=spec,
            idempotency_key=idempotency_key,
            if_exists=if_exists,
        )
        if not created.replayed:
            await self._bring_to_life(created.session, driver)
        return created

    async def _bring_to_life(self, session: Session, driver: Driver) -> None:
        """Directory and driver hook; undo the row if either fails."""
        try:
            await self.files.create(session.workspace_id, session.id)
            await driver.on_create(session)
        except BaseException:
            await self._discard(session.workspace_id, session.id)
            raise

    async def _discard(self, workspace_id: str, session_id: str) -> None:
        ids = await self.store.delete_session(workspace_id=workspace_id, session_id=session_id)
        for sid in ids:
            await self.files.remove(workspace_id, sid)

    async def get(self, workspace_id: str, session_id: str) -> Session:
        return await self.store.get_session(workspace_id=workspace_id, session_id=session_id)

    async def list_sessions(self, workspace_id: str, query: SessionQuery) -> Page[Session]:
        return await self.store.list_sessions(workspace_id=workspace_id, query=query)

    async def update(
        self, workspace_id: str, session_id: str, patch: SessionUpdate, *, if_version: int | None
    ) -> Session:
        return await self.store.update_session(
            workspace_id=workspace_id,
            session_id=session_id,
            patch=patch,
            fields=set(patch.model_fields_set),
            if_version=if_version,
        )

    async def delete(self, workspace_id: str, session_id: str) -> None:
        session = await self.get(workspace_id, session_id)
        await self._driver(session).on_delete(session)
        if self.runs.active:
            await self.runs.cancel(session)
        await self._discard(workspace_id, session_id)

    async def set_attributes(
        self, workspace_id: str, session_id: str, attributes: Mapping[str, Any]
    ) -> Session:
        """Merge ``attributes`` into the session's (a kind's own bookkeeping)."""
        return await self.store.set_attributes(
            workspace_id=workspace_id, session_id=session_id, attributes=dict(attributes)
        )

    async def change_attributes(
        self,
        workspace_id: str,
        session_id: str,
        change: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> Session:
        """Merge what ``change`` returns for the stored attributes, in one transaction."""
        return await self.store.change_attributes(
            workspace_id=workspace_id, session_id=session_id, change=change
        )

    async def count_sessions(self, workspace_id: str, query: SessionQuery) -> int:
        return await self.store.count_sessions(workspace_id=workspace_id, query=query)

    async def attribute_values(
        self, workspace_id: str, kind: str, key: str, *, limit: int = 1000
    ) -> list[str]:
        """The distinct values one attribute takes across a kind's sessions."""
        return await self.store.distinct_attribute_values(
            workspace_id=workspace_id, kind=kind, key=key, limit=limit
        )

    async def payload_rollups(
        self, session_ids: Sequence[str], event_types: Sequence[str], keys: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """Per session, sums of numeric payload ``keys`` over events of ``event_types``."""
        return await self.store.payload_rollups(
            session_ids=session_ids, event_types=event_types, keys=keys
        )

    async def running_sessions(self, kind: str) -> list[Session]:
        return await self.store.running_sessions(kind=kind)

    # events
    async def append(
        self,
        workspace_id: str,
        session_id: str,
        events: Sequence[EventCreate],
        *,
        expected_seq: int | None = None,
    ) -> list[Event]:
        return await self.store.append_events(
            workspace_id=workspace_id,
            session_id=session_id,
            events=events,
            expected_seq=expected_seq,
        )

    async def events(
        self, workspace_id: str, session_id: str, *, after: int, limit: int
    ) -> Page[Event]:
        return await self.store.list_events(
            workspace_id=workspace_id, session_id=session_id, after=after, limit=limit
        )

    async def tail(self, workspace_id: str, session_id: str, *, limit: int) -> list[Event]:
        return await self.store.tail_events(
            workspace_id=workspace_id, session_id=session_id, limit=limit
        )

    async def user_messages(
        self, workspace_id: str, kind: str, *, limit: int, offset: int
    ) -> list[Event]:
        """A kind's user messages across its top-level sessions, newest first."""
        return await self.store.user_messages(
            workspace_id=workspace_id, kind=kind, limit=limit, offset=offset
        )

    def iter_events(
        self, workspace_id: str, session_id: str, *, after: int = 0
    ) -> AsyncIterator[Event]:
        """Every event after ``after``, read a page at a time (export, replay)."""
        return self.store.iter_events(workspace_id=workspace_id, session_id=session_id, after=after)

    async def all_events(self, workspace_id: str, session_id: str) -> list[Event]:
        """The whole transcript, for rules that look at all of it (a message's position)."""
        return [event async for event in self.iter_events(workspace_id, session_id)]

    async def event(self, workspace_id: str, session_id: str, event_id: str) -> Event:
        return await self.store.get_event(
            workspace_id=workspace_id, session_id=session_id, event_id=event_id
        )

    # fork and rewind
    async def fork(self, workspace_id: str, session_id: str, request: ForkRequest) -> Session:
        source = await self.get(workspace_id, session_id)
        driver = self._driver(source, Capability.fork)
        spec = SessionCreate(
            kind=source.kind,
            name=request.name,
            title=request.title if request.title is not None else source.title,
            attributes=source.attributes,
            metadata=request.metadata if request.metadata is not None else source.metadata,
        )
        at = await self._event_named(source, driver, request.at_event_id, request.message_index)
        fork = await self.store.fork_session(
            workspace_id=workspace_id, session_id=session_id, at_event_id=at, spec=spec,
            rewrite=_fork_rewrite(driver),
        )  # fmt: skip
        try:
            await self.files.copy(workspace_id, session_id, fork.id)
            await driver.on_fork(source, fork)
        except BaseException:
            await self._discard(workspace_id, fork.id)
            raise
        return fork

    async def _event_named(
        self, session: Session, driver: Driver, event_id: str | None, message_index: int | None
    ) -> str | None:
        """An event named by its id or by a message index (which the kind resolves)."""
        if message_index is None:
            return event_id
        if event_id is not None:
            raise Invalid("give an event id or a message index, not both")
        return await driver.message_event(session, message_index)

    async def rewind(
        self, workspace_id: str, session_id: str, request: RewindRequest
    ) -> RewindResult:
        session = await self.get(workspace_id, session_id)
        driver = self._driver(session, Capability.rewind)
        to = await self._event_named(session, driver, request.to_event_id, request.message_index)
        if to is None and request.message_index is None:
            raise Invalid("give to_event_id or message_index: the event to rewind to")
        if to is None:  # the end of a transcript without messages: nothing to drop
            return RewindResult(session=session, deleted_events=0, deleted_files=[])
        rewound = await self.store.rewind_session(
            workspace_id=workspace_id, session_id=session_id, to_event_id=to
        )
        removed: list[str] = []
        if request.cleanup_files and rewound.first_deleted_at is not None:
            removed = await self.files.remove_modified_after(
                workspace_id, session_id, rewound.first_deleted_at
            )
        await driver.on_rewind(rewound.session)
        return RewindResult(
            session=rewound.session, deleted_events=rewound.deleted_events, deleted_files=removed
        )

    # runs
    async def start_run(self, workspace_id: str, session_id: str, input: dict[str, Any]) -> Run:
        session = await self.get(workspace_id, session_id)
        driver = self._driver(session, Capability.runs)
        await driver.before_run(session, input)
        return await self.runs.start(session, driver, input)

    async def cancel(self, workspace_id: str, session_id: str) -> CancelResult:
        session = await self.get(workspace_id, session_id)
        return await self.runs.cancel(session)

    # files
    async def list_files(self, workspace_id: str, session_id: str) -> list[FileInfo]:
        await self.get(workspace_id, session_id)
        return await self.files.list(workspace_id, session_id)

    async def write_file(
        self, workspace_id: str, session_id: str, path: str, chunks: AsyncIterable[bytes]
    ) -> FileInfo:
        await self.get(workspace_id, session_id)
        return await self.files.write(workspace_id, session_id, path, chunks)

    async def open_file(self, workspace_id: str, session_id: str, path: str) -> OpenFile:
        """The session's file, opened for serving; the caller closes it when served."""
        await self.get(workspace_id, session_id)
        return await self.files.open_existing(workspace_id, session_id, path)

    async def delete_file(self, workspace_id: str, session_id: str, path: str) -> None:
        await self.get(workspace_id, session_id)
        await self.files.delete(workspace_id, session_id, path)

    # housekeeping
    async def reap_expired(self) -> int:
        gone = await self.store.delete_expired(now=datetime.now(UTC))
        for workspace_id, session_id in gone:
            await self.files.remove(workspace_id, session_id)
        return len(gone)

    async def ready(self) -> tuple[bool, str]:
        return await self.store.ready()

    async def stats(self) -> dict[str, int]:
        return await self.store.stats()

    # streams
    async def follow(
        self,
        workspace_id: str,
        session_id: str,
        *,
        after: int = 0,
        live: bool = False,
        idle: float | None = None,
    ) -> AsyncGenerator[Followed, None]:
        """The session's events after seq ``after``, then each new one as it is stored.

        The one stream engine of every surface. It subscribes before its first read,
        so an event stored while it replays is read next, never lost; it reads a
        page at a time, then waits until the bus says the session changed (an
        append here, or another process's through the store's notifications).
        Each time it has read everything it yields ``CaughtUp``. With ``live`` it
        also yields the bus's live-only messages as ``LiveMessages``: a message
        published before an event was stored comes before that event. With
        ``idle`` it yields ``Idle`` after that many seconds without a change. It
        runs until the consumer closes it (or the session is deleted: ``NotFound``).
        """
        listener = self.bus.listen(session_id, live=live)
        try:
            while True:
                listener.flag.clear()
                pages = self._catch_up(workspace_id, session_id, after, listener)
                async with aclosing(pages):
                    async for item in pages:
                        if isinstance(item, Event):
                            after = item.seq
                        yield item
                yield CaughtUp()
                if not await listener.wait(idle):
                    yield Idle()
        finally:
            self.bus.unlisten(session_id, listener)

    async def _catch_up(
        self, workspace_id: str, session_id: str, after: int, listener: Listener
    ) -> AsyncGenerator[Event | LiveMessages, None]:
        """Stored events after ``after``, page by page, each preceded by the live
        messages queued by then; then whatever live messages remain."""
        more = True
        while more:
            page = await self.events(workspace_id, session_id, after=after, limit=FOLLOW_PAGE)
            for event in page.items:
                if listener.pending:
                    yield listener.batch()
                yield event
                after = event.seq
            more = page.next_cursor is not None
        if listener.pending:
            yield listener.batch()


def _fork_rewrite(driver: Driver) -> PayloadRewrite | None:
    """The kind's ``fork_payloads`` when it overrides the default, else None: the store
    then copies the events without reading them."""
    if type(driver).fork_payloads is Driver.fork_payloads:
        return None
    return driver.fork_payloads
