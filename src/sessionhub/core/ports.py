"""The driver interface: what gives a session of one kind its life.

A driver is registered under its kind through the ``sessionhub.drivers``
entry-point group (built-ins too) and declares its capabilities; the service
refuses an operation whose capability the driver lacks.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from sessionhub.domain.models import Event, EventCreate, Run, Session

if TYPE_CHECKING:
    from sessionhub.config import Settings
    from sessionhub.core.service import SessionService
    from sessionhub.files import SessionFiles
    from sessionhub.store.base import SessionStore


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


@dataclass
class DriverHost:
    """What the server lends its drivers when it starts: settings and the service."""

    settings: Settings
    service: SessionService

    @property
    def store(self) -> SessionStore:
        return self.service.store

    @property
    def files(self) -> SessionFiles:
        return self.service.files


class Driver(abc.ABC):
    kind: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.fork, Capability.rewind})

    async def on_create(self, session: Session) -> None:
        """Called after the session row and its directory exist."""

    async def on_delete(self, session: Session) -> None:
        """Called before the session is removed."""

    async def on_fork(self, source: Session, fork: Session) -> None: ...

    async def on_rewind(self, session: Session) -> None: ...

    async def open(self, host: DriverHost) -> None:
        """Server start, before any run and before orphaned runs are interrupted.

        Drivers keep what they need of ``host`` (settings, the service to record
        events or create sessions) and reap what a crash left behind.
        """

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
