"""Live notifications: who is waiting for what on which session.

The store tells the bus about every committed change, from this process
(right after commit) and from others (PostgreSQL NOTIFY). Waiters only learn
*that* something changed; they read the events themselves from the store, so
a missed or duplicated notification costs a query, never an event.

The bus also carries *live-only* messages (``publish``): things worth showing
to whoever is listening right now in this process but not worth storing, such
as the token deltas of a streamed LLM reply. Whatever they say must also reach
the store in a durable, coalesced form, because listeners elsewhere, later, or
too slow to keep up do not get them.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

LIVE_LIMIT = 10_000  # queued live messages per listener; beyond it they are dropped


@dataclass(frozen=True, slots=True)
class LiveMessages:
    """Live-only messages published since the previous batch, in order.

    ``dropped`` counts the messages this listener has lost so far because it fell
    ``LIVE_LIMIT`` behind: once it is non-zero, what was shown live is incomplete.
    """

    messages: tuple[Any, ...]
    dropped: int


@dataclass(frozen=True, slots=True)
class CaughtUp:
    """Every event stored before this point has been yielded; the follower now waits."""


@dataclass(frozen=True, slots=True)
class Idle:
    """Nothing changed for the follower's idle interval: a cue for a heartbeat."""


class Listener:
    """A waiter that also receives the session's live-only messages, in order."""

    def __init__(self) -> None:
        self.flag = asyncio.Event()
        self.queue: deque[Any] = deque()
        self.dropped = 0

    @property
    def pending(self) -> bool:
        return bool(self.queue)

    def push(self, message: Any) -> None:
        if len(self.queue) >= LIVE_LIMIT:
            self.dropped += 1
        else:
            self.queue.append(message)
        self.flag.set()

    def take(self) -> list[Any]:
        taken = list(self.queue)
        self.queue.clear()
        return taken

    def batch(self) -> LiveMessages:
        """What ``take`` returns, with the count dropped so far."""
        return LiveMessages(tuple(self.take()), self.dropped)

    async def wait(self, timeout: float | None) -> bool:
        """Wait until something changes; False when ``timeout`` seconds passed first."""
        try:
            await asyncio.wait_for(self.flag.wait(), timeout)
        except TimeoutError:
            return False
        return True


class EventBus:
    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._listeners: dict[str, set[Listener]] = defaultdict(set)

    def notify(self, topic: str, session_id: str, seq: int) -> None:
        """Wake the session's waiters; session ``*`` wakes everyone (after a reconnect)."""
        if session_id == "*":
            for waiters in self._waiters.values():
                for flag in waiters:
                    flag.set()
            return
        for flag in self._waiters.get(session_id, ()):
            flag.set()

    def _unwatch(self, session_id: str, flag: asyncio.Event) -> None:
        waiters = self._waiters.get(session_id)
        if waiters is not None:
            waiters.discard(flag)
            if not waiters:
                del self._waiters[session_id]

    def listen(self, session_id: str, *, live: bool = True) -> Listener:
        """Wake on the session's changes and, when ``live``, receive its live-only messages."""
        listener = Listener()
        self._waiters[session_id].add(listener.flag)
        if live:
            self._listeners[session_id].add(listener)
        return listener

    def unlisten(self, session_id: str, listener: Listener) -> None:
        self._unwatch(session_id, listener.flag)
        listeners = self._listeners.get(session_id)
        if listeners is not None:
            listeners.discard(listener)
            if not listeners:
                del self._listeners[session_id]

    def watching(self, session_id: str) -> int:
        """How many listeners the session has in this process (live or not)."""
        return len(self._waiters.get(session_id, ()))

    def publish(self, session_id: str, message: Any) -> None:
        """A live-only message to this process's current listeners of the session."""
        for listener in self._listeners.get(session_id, ()):
            listener.push(message)
