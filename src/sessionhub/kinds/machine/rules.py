"""Machine sessions as the dialects and the native API see them: launch, wait for the URL,
extend, stop, list."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sessionhub.core.service import SessionService
from sessionhub.domain.attributes.machine import MachineAttributes
from sessionhub.domain.errors import NotFound, Unavailable
from sessionhub.domain.models import Session, SessionCreate, SessionQuery, SessionStatus
from sessionhub.kinds.machine.driver import MachineDriver

KIND = "machine"


class LeaseNotFound(NotFound):
    """No active lease (GPU event) for that session."""


class MachineNotFound(NotFound):
    """No machine with that id or name in the workspace."""


def is_active(session: Session) -> bool:
    return (
        session.kind == KIND
        and session.status is SessionStatus.running
        and MachineAttributes.of(session).active
    )


def started(session: Session) -> datetime:
    """When the lease started (its creation if it has not yet): newest first in lists."""
    return MachineAttributes.of(session).start_time or session.created_at


@dataclass
class Launched:
    session: Session
    url: str | None


@dataclass(frozen=True)
class MachineSessions:
    """The machine kind's rules over the service and this server's machine driver.

    Holds no state of its own (the leases, their URL waiters and deadlines live in the
    driver), so ``of`` may build one per request.
    """

    service: SessionService
    driver: MachineDriver

    @classmethod
    def of(cls, service: SessionService) -> MachineSessions:
        """The rules for the machine driver registered with ``service``."""
        return cls(service, service.drivers.get_as(KIND, MachineDriver))

    async def launch(
        self, workspace_id: str, machine: str, *, gpu: str | None, timeout_seconds: float,
        wait: bool,
    ) -> Launched:  # fmt: skip
        try:
            found = await self.driver.host.machines.get(workspace_id, machine)
        except NotFound:
            raise MachineNotFound(f"machine {machine} not found") from None
        asked = MachineAttributes(machine_id=found.id, timeout_seconds=timeout_seconds)
        if gpu:
            asked.gpu = gpu
        spec = SessionCreate(kind=KIND, attributes=asked.stored())
        session = (await self.service.create(workspace_id, spec)).session
        ready = self.driver.expect(session.id)
        try:
            await self.service.start_run(workspace_id, session.id, {})
        except BaseException:
            self.driver.forget(session.id)
            await self.service.delete(workspace_id, session.id)
            raise
        if not wait:
            return Launched(await self.service.get(workspace_id, session.id), None)
        try:
            url = await asyncio.wait_for(asyncio.shield(ready), found.startup_timeout + 5)
        except TimeoutError:
            raise Unavailable("the machine did not answer within its startup timeout") from None
        return Launched(await self.service.get(workspace_id, session.id), url)

    async def active(self, workspace_id: str, session_id: str) -> Session:
        try:
            session = await self.service.get(workspace_id, session_id)
        except NotFound:
            raise LeaseNotFound(f"no active machine session {session_id}") from None
        if not is_active(session):
            raise LeaseNotFound(f"no active machine session {session_id}")
        return session

    async def list_active(self, workspace_id: str, machine: str | None) -> list[Session]:
        query = SessionQuery(kind=KIND, status=SessionStatus.running, limit=500)
        found: list[Session] = []
        while True:
            page = await self.service.list_sessions(workspace_id, query)
            found.extend(s for s in page.items if is_active(s))
            if page.next_cursor is None:
                break
            query = query.model_copy(update={"cursor": page.next_cursor})
        if machine is not None:
            try:
                ref = await self.driver.host.machines.get(workspace_id, machine)
            except NotFound:
                return []
            found = [s for s in found if MachineAttributes.of(s).machine_ref == ref.id]
        return sorted(found, key=started, reverse=True)

    async def stop(self, workspace_id: str, session_id: str) -> None:
        await self.active(workspace_id, session_id)
        await self.service.cancel(workspace_id, session_id)

    async def extend(
        self, workspace_id: str, session_id: str, seconds: float, *, machine: str | None = None
    ) -> Session:
        """Move the lease's deadline ``seconds`` later; atomic, so concurrent extensions add up.

        With ``machine`` (an id), only a lease of that machine. The lease's own server
        process is told at once if it is this one; another process reads the stored
        deadline before it would end the lease.
        """
        session = await self.active(workspace_id, session_id)
        if machine is not None and MachineAttributes.of(session).machine_ref != machine:
            raise LeaseNotFound(f"session {session_id} does not run machine {machine}")

        def later(stored: dict[str, Any]) -> dict[str, Any]:
            attrs = MachineAttributes.parse(stored)
            if attrs.end_time is not None:
                raise LeaseNotFound(f"no active machine session {session_id}")
            # a lease that has not started its clock yet has no timeout_end
            end = attrs.timeout_end or datetime.now(UTC) + timedelta(seconds=attrs.timeout_seconds)
            return MachineAttributes(
                timeout_seconds=attrs.timeout_seconds + seconds,
                timeout_end=end + timedelta(seconds=seconds),
            ).stored()

        updated = await self.service.change_attributes(workspace_id, session_id, later)
        deadline = MachineAttributes.of(updated).timeout_end
        assert deadline is not None  # ``later`` has just set it
        self.driver.extend(session_id, deadline)
        return updated
