"""KeyedLocks: one lock per key, gone once nobody holds or waits for it."""

from __future__ import annotations

import asyncio

import pytest

from sessionhub.kinds.kernel.locks import KeyedLocks

pytestmark = pytest.mark.anyio


async def test_a_lock_is_dropped_when_its_holder_leaves() -> None:
    locks: KeyedLocks[str] = KeyedLocks()
    async with locks.hold("a"):
        assert "a" in locks
        async with locks.hold("b"):
            assert len(locks) == 2
    assert len(locks) == 0


async def test_a_waiter_keeps_the_lock_so_a_newcomer_cannot_run_beside_it() -> None:
    """Right after a release the lock reads unlocked while the waiter is about to run:
    dropping it then would hand a newcomer a second lock for the same key."""
    locks: KeyedLocks[str] = KeyedLocks()
    inside: list[str] = []
    overlapped: list[str] = []
    let_go = asyncio.Event()

    async def use(name: str, until: asyncio.Event | None = None) -> None:
        async with locks.hold("k"):
            if inside:
                overlapped.append(name)
            inside.append(name)
            if until is not None:
                await until.wait()
            await asyncio.sleep(0.01)
            inside.remove(name)

    first = asyncio.create_task(use("first", let_go))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(use("waiter"))
    await asyncio.sleep(0)
    let_go.set()
    await first
    newcomer = asyncio.create_task(use("newcomer"))
    await asyncio.gather(waiter, newcomer)
    assert overlapped == []
    assert len(locks) == 0


async def test_a_cancelled_waiter_leaves_no_lock_behind() -> None:
    locks: KeyedLocks[str] = KeyedLocks()
    async with locks.hold("k"):
        waiting = asyncio.create_task(locks.hold("k").__aenter__())
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert "k" in locks
    assert len(locks) == 0
