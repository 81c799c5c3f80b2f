"""Live notifications: who is waiting for what on which session.

The store tells the bus about every committed change, from this process
(right after commit) and from others (PostgreSQL NOTIFY). Waiters only learn
*that* something changed; they read the events themselves from the store, so
a missed or duplicated notification costs a query, never an event.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict


class EventBus:
    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._cancel_handlers: list[asyncio.Queue[str]] = []

    def notify(self, topic: str, session_id: str, seq: int) -> None:
        for flag in self._waiters.get(session_id, ()):
            flag.set()

    def watch(self, session_id: str) -> asyncio.Event:
        flag = asyncio.Event()
        self._waiters[session_id].add(flag)
        return flag

    def unwatch(self, session_id: str, flag: asyncio.Event) -> None:
        waiters = self._waiters.get(session_id)
        if waiters is not None:
            waiters.discard(flag)
            if not waiters:
                del self._waiters[session_id]
