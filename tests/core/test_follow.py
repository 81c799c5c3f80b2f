"""SessionService.follow: the one stream engine (replay, then live, then idle)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from pathlib import Path

import pytest

from sessionhub.core.bus import CaughtUp, Idle, LiveMessages
from sessionhub.core.service import Followed, SessionService
from sessionhub.domain.errors import NotFound
from sessionhub.domain.models import Event, EventCreate, Page, SessionCreate
from sessionhub.store.base import SessionStore
from sessionhub.store.sql.store import open_store
from tests.core.conftest import service_over

pytestmark = pytest.mark.anyio


async def new_session(service: SessionService, workspace_id: str) -> str:
    created = await service.create(workspace_id, SessionCreate(kind="generic"))
    return created.session.id


async def append(service: SessionService, workspace_id: str, session_id: str, n: int) -> None:
    notes = [EventCreate(type="note", payload={"n": i}) for i in range(n)]
    await service.append(workspace_id, session_id, notes)


async def read_until(
    followed: AsyncGenerator[Followed, None], done: Callable[[list[Followed]], bool]
) -> list[Followed]:
    """Items from the follower until ``done`` says enough (10 s at most)."""
    items: list[Followed] = []
    async with asyncio.timeout(10):
        async for item in followed:
            items.append(item)
            if done(items):
                break
    return items


def seqs(items: list[Followed]) -> list[int]:
    return [item.seq for item in items if isinstance(item, Event)]


def up_to(seq: int) -> Callable[[list[Followed]], bool]:
    return lambda items: seq in seqs(items)


def caught_up(items: list[Followed]) -> bool:
    return isinstance(items[-1], CaughtUp)


async def test_replays_after_the_seq_then_yields_new_events(
    service: SessionService, workspace_id: str
) -> None:
    sid = await new_session(service, workspace_id)
    await append(service, workspace_id, sid, 3)
    async with aclosing(service.follow(workspace_id, sid, after=1)) as followed:
        replayed = await read_until(followed, caught_up)
        await append(service, workspace_id, sid, 2)
        live = await read_until(followed, up_to(5))
    assert seqs(replayed) == [2, 3]
    assert seqs(live) == [4, 5]
    assert all(isinstance(item, Event | CaughtUp) for item in replayed + live)


async def test_nothing_is_lost_between_replay_and_live(
    service: SessionService, workspace_id: str
) -> None:
    """Events stored while the follower replays (more than a page) all arrive, once, in order."""
    sid = await new_session(service, workspace_id)
    await append(service, workspace_id, sid, 700)

    async def writer() -> None:
        for _ in range(60):
            await append(service, workspace_id, sid, 5)

    async with aclosing(service.follow(workspace_id, sid)) as followed:
        writing = asyncio.create_task(writer())
        items = await read_until(followed, up_to(1000))
        await writing
    assert seqs(items) == list(range(1, 1001))


class AppendsDuringFirstRead(SessionService):
    """A service that stores one more event right after a follower's first read:
    the append a stream must not miss between its replay and its wait."""

    async def events(
        self, workspace_id: str, session_id: str, *, after: int, limit: int
    ) -> Page[Event]:
        page = await super().events(workspace_id, session_id, after=after, limit=limit)
        if after == 0:
            await append(self, workspace_id, session_id, 1)
        return page


async def test_an_append_during_the_replay_wakes_the_follower(
    store: SessionStore, workspace_id: str, tmp_path: Path
) -> None:
    with service_over(store, tmp_path, AppendsDuringFirstRead) as service:
        sid = await new_session(service, workspace_id)
        async with aclosing(service.follow(workspace_id, sid)) as followed:
            items = await read_until(followed, up_to(1))
    assert [type(item) for item in items] == [CaughtUp, Event]


async def test_live_messages_come_before_events_stored_after_them(
    service: SessionService, workspace_id: str
) -> None:
    sid = await new_session(service, workspace_id)
    async with aclosing(service.follow(workspace_id, sid, live=True)) as followed:
        await read_until(followed, caught_up)
        service.bus.publish(sid, {"delta": "he"})
        service.bus.publish(sid, {"delta": "llo"})
        await append(service, workspace_id, sid, 1)
        items = await read_until(followed, up_to(1))
    batches = [item for item in items if isinstance(item, LiveMessages)]
    assert [m for batch in batches for m in batch.messages] == [{"delta": "he"}, {"delta": "llo"}]
    assert items.index(batches[-1]) < items.index(next(i for i in items if isinstance(i, Event)))
    assert all(batch.dropped == 0 for batch in batches)


async def test_live_messages_are_not_kept_unless_asked_for(
    service: SessionService, workspace_id: str
) -> None:
    sid = await new_session(service, workspace_id)
    async with aclosing(service.follow(workspace_id, sid)) as followed:
        await read_until(followed, caught_up)
        service.bus.publish(sid, {"delta": "x"})
        await append(service, workspace_id, sid, 1)
        items = await read_until(followed, up_to(1))
    assert not [item for item in items if isinstance(item, LiveMessages)]


async def test_idle_ticks_when_nothing_changes(service: SessionService, workspace_id: str) -> None:
    sid = await new_session(service, workspace_id)
    async with aclosing(service.follow(workspace_id, sid, idle=0.05)) as followed:
        items = await read_until(followed, lambda items: isinstance(items[-1], Idle))
        await append(service, workspace_id, sid, 1)
        after_tick = await read_until(followed, up_to(1))
    assert [type(item) for item in items] == [CaughtUp, Idle]
    assert seqs(after_tick) == [1]


async def test_stops_cleanly_when_the_consumer_leaves(
    service: SessionService, workspace_id: str
) -> None:
    sid = await new_session(service, workspace_id)
    async with aclosing(service.follow(workspace_id, sid, live=True)) as followed:
        await read_until(followed, caught_up)
        assert service.bus.watching(sid) == 1
    assert service.bus.watching(sid) == 0

    async def consume() -> None:
        async for _ in service.follow(workspace_id, sid, live=True):
            pass

    task = asyncio.create_task(consume())
    while service.bus.watching(sid) == 0:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert service.bus.watching(sid) == 0
    service.bus.publish(sid, {"delta": "nobody listens"})


async def test_another_workspace_cannot_follow(service: SessionService, workspace_id: str) -> None:
    sid = await new_session(service, workspace_id)
    other = (await service.store.create_workspace(name="other")).id
    with pytest.raises(NotFound):
        async with aclosing(service.follow(other, sid)) as followed:
            await anext(followed)
    assert service.bus.watching(sid) == 0


@pytest.mark.postgres
async def test_events_appended_by_another_process_arrive(postgres_url: str, tmp_path: Path) -> None:
    """Two stores on one PostgreSQL database: the follower learns of the other's
    appends only through the database's notifications."""
    here, there = open_store(postgres_url), open_store(postgres_url)
    await here.open()
    await there.open()
    try:
        with service_over(here, tmp_path / "a") as a, service_over(there, tmp_path / "b") as b:
            workspace_id = (await here.create_workspace(name="follow")).id
            sid = await new_session(a, workspace_id)
            async with aclosing(b.follow(workspace_id, sid)) as followed:
                await read_until(followed, caught_up)
                await append(a, workspace_id, sid, 3)
                items = await read_until(followed, up_to(3))
        assert seqs(items) == [1, 2, 3]
    finally:
        await there.close()
        await here.close()
