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

from sessionhub.core.models import Event, EventCreate, Run, Session

if TYPE_CHECKING:
    from sessionhub.config import Settings
    from sessionhub.core.service import SessionService


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


class Driver(abc.ABC):
    kind: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.fork, Capability.rewind})

    def configure(self, settings: Settings, service: SessionService) -> None:
        """Called once when the server starts, before any run (drivers needing settings)."""

    async def on_create(self, session: Session) -> None:
        """Called after the session row and its directory exist."""

    async def on_delete(self, session: Session) -> None:
        """Called before the session is removed."""

    async def on_fork(self, source: Session, fork: Session) -> None: ...

    async def on_rewind(self, session: Session) -> None: ...

    async def run(self, ctx: RunContext, input: dict[str, Any]) -> None:
        """Do one unit of work; cancelled with ``asyncio.CancelledError``."""
        raise NotImplementedError

    async def describe(self, session: Session) -> dict[str, Any]:
        """Live status to merge into reads (e.g. a kernel's execution state)."""
        return {}

    async def open(self, service: SessionService) -> None:
        """Server start: drivers that record events or restore state keep the service."""

    async def close(self) -> None:
        """Server shutdown."""
