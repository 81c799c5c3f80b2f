"""The driver interface: what gives a session of one kind its life.

A driver is registered under its kind through the ``sessionhub.drivers``
entry-point group (built-ins too) and declares its capabilities; the service
refuses an operation whose capability the driver lacks.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from sessionhub.config import Settings
from sessionhub.domain.errors import Unsupported
from sessionhub.domain.machines import Machine, SlotClaim
from sessionhub.domain.models import Event, EventCreate, Page, Run, Session, SessionCreate
from sessionhub.execution.sandbox import Sandbox


class Capability(enum.StrEnum):
    fork = "fork"
    rewind = "rewind"
    runs = "runs"
    cancel = "cancel"


@dataclass
class RunContext:
    """What a running driver may do: append events to its session."""

    session: Session
    run: Run
    append: Callable[[Sequence[EventCreate]], Awaitable[list[Event]]]


class Host(abc.ABC):
    """The narrow window a driver gets on the server (given to ``Driver.open``).

    A driver records what its session does and keeps its attributes current; it
    never sees the store, other workspaces or the web layer. Every method takes
    the ``Session`` it acts on, so a driver cannot name a session of another
    workspace by id.
    """

    settings: Settings
    machines: MachineProfiles
    sandbox: Sandbox  # where the kind runs user code (execution/)

    @abc.abstractmethod
    async def get(self, session: Session) -> Session:
        """The session as stored now."""

    @abc.abstractmethod
    async def append(self, session: Session, events: Sequence[EventCreate]) -> list[Event]: ...

    @abc.abstractmethod
    async def events(self, session: Session, *, after: int = 0, limit: int = 500) -> Page[Event]:
        """A page of the session's events with ``seq > after``."""

    @abc.abstractmethod
    async def all_events(self, session: Session) -> list[Event]:
        """The session's whole transcript, in order."""

    @abc.abstractmethod
    async def set_attributes(self, session: Session, attributes: Mapping[str, Any]) -> Session:
        """Merge ``attributes`` into the session's (a ``None`` value is stored as null)."""

    @abc.abstractmethod
    async def change_attributes(
        self, session: Session, change: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> Session:
        """Merge what ``change`` returns for the stored attributes, atomically."""

    @abc.abstractmethod
    async def create_child(self, parent: Session, spec: SessionCreate) -> Session:
        """A new session in the parent's workspace with ``parent_id`` set (a subagent)."""

    @abc.abstractmethod
    def directory(self, session: Session) -> Path:
        """The session's own directory."""

    @abc.abstractmethod
    def publish(self, session_id: str, message: Any) -> None:
        """A live-only message to the session's followers (not stored)."""

    @abc.abstractmethod
    async def running_sessions(self, kind: str) -> list[Session]:
        """Sessions of ``kind`` marked running, in every workspace (reaping at start)."""

    @abc.abstractmethod
    async def release_lease(self, resource: str) -> None:
        """Hand back this node's lease on a host-bound resource that has stopped here
        (a culled kernel), so the next request may start it on any node."""


class MachineProfiles(abc.ABC):
    """Registered machines (compute profiles), as the ``machine`` kind needs them."""

    @abc.abstractmethod
    async def get(self, workspace_id: str, machine: str) -> Machine:
        """A machine by id or name; NotFound otherwise."""

    @abc.abstractmethod
    async def claim_slot(self, session: Session, claim: SlotClaim) -> Session:
        """Take one of a pool's concurrent slots for the session, or Conflict."""


class Driver(abc.ABC):
    kind: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.fork, Capability.rewind})

    async def on_create(self, session: Session) -> None:
        """Called after the session row and its directory exist."""

    async def on_delete(self, session: Session) -> None:
        """Called before the session is removed."""

    async def on_fork(self, source: Session, fork: Session) -> None: ...

    async def on_rewind(self, session: Session) -> None: ...

    async def open(self, host: Host) -> None:
        """Server start, before any run and before orphaned runs are interrupted.

        Drivers keep ``host`` (settings, and the narrow window to record events,
        keep attributes and create child sessions) and reap what a crash left behind.
        """

    async def message_event(self, session: Session, index: int) -> str | None:
        """The id of the event that ends message ``index`` (from 0), so fork and rewind
        can be addressed by message, or None for the end of the transcript (message 0 of
        a session without messages); only kinds whose rules know messages override it."""
        raise Unsupported(f"{self.kind} sessions cannot be addressed by message index")

    def fork_payloads(self, copied: Sequence[Event]) -> Mapping[int, dict[str, Any]]:
        """Payloads, by seq, to store instead in a fork's copies of its source's events:
        a kind whose payloads carry ids of their own gives the copies new ones. It runs
        inside the fork's write transaction, so it does no I/O. The default changes
        nothing (and the service then never reads the copies)."""
        return {}

    async def before_run(self, session: Session, input: dict[str, Any]) -> None:
        """Refuse a run before it is recorded (limits, bad input); raise a domain error."""

    async def run(self, ctx: RunContext, input: dict[str, Any]) -> None:
        """Do one unit of work; cancelled with ``asyncio.CancelledError``."""
        raise NotImplementedError

    async def describe(self, session: Session) -> dict[str, Any]:
        """Live status to merge into reads (e.g. a kernel's execution state)."""
        return {}

    async def close(self) -> None:
        """Server shutdown."""
