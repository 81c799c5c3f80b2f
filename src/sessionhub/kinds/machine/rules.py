"""Machine sessions as the dialects see them: launch, wait for the URL, extend, stop, list."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sessionhub.core.service import SessionService
from sessionhub.domain.errors import NotFound, Unavailable
from sessionhub.domain.models import Session, SessionCreate, SessionQuery, SessionStatus
from sessionhub.kinds.machine.driver import MachineDriver, iso

KIND = "machine"


class LeaseNotFound(NotFound):
    """No active lease (GPU event) for that session."""


class MachineNotFound(NotFound):
    """No machine with that id or name in the workspace."""


def is_active(session: Session) -> bool:
    attrs = session.attributes
    return (
        session.kind == KIND
        and session.status is SessionStatus.running
        and "gpu_event_id" in attrs
        and attrs.get("end_time") is None
    )


@dataclass
class Launched:
    session: Session
    url: str | None


@dataclass
class MachineSessions:
    service: SessionService

    @property
    def driver(self) -> MachineDriver:
        driver = self.service.drivers.get(KIND)
        assert isinstance(driver, MachineDriver)
        return driver

    async def launch(
        self, workspace_id: str, machine: str, *, gpu: str | None, timeout_seconds: float,
        wait: bool,
    ) -> Launched:  # fmt: skip
        try:
            found = await self.driver.host.machines.get(workspace_id, machine)
        except NotFound:
            raise MachineNotFound(f"machine {machine} not found") from None
        attributes: dict[str, Any] = {"machine_id": found.id, "timeout_seconds": timeout_seconds}
        if gpu:
            attributes["gpu"] = gpu
        spec = SessionCreate(kind=KIND, attributes=attributes)
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
            found = [s for s in found if s.attributes.get("machine_ref") == ref.id]
        return sorted(found, key=lambda s: str(s.attributes.get("start_time")), reverse=True)

    async def stop(self, workspace_id: str, session_id: str) -> None:
        await self.active(workspace_id, session_id)
        await self.service.cancel(workspace_id, session_id)

    async def extend(self, workspace_id: str, session_id: str, seconds: float) -> Session:
        """Move the lease's deadline ``seconds`` later; atomic, so concurrent extensions add up.

        The lease's own server process is told at once if it is this one; another process
        reads the stored deadline before it would end the lease.
        """
        await self.active(workspace_id, session_id)

        def later(attrs: dict[str, Any]) -> dict[str, Any]:
            if attrs.get("end_time") is not None:
                raise LeaseNotFound(f"no active machine session {session_id}")
            current = float(attrs.get("timeout_seconds", 0))
            if "timeout_end" in attrs:
                end = datetime.fromisoformat(str(attrs["timeout_end"]).replace("Z", "+00:00"))
            else:  # the lease has not started its clock yet
                end = datetime.now(UTC) + timedelta(seconds=current)
            deadline = end + timedelta(seconds=seconds)
            return {"timeout_seconds": current + seconds, "timeout_end": iso(deadline)}

        updated = await self.service.change_attributes(workspace_id, session_id, later)
        deadline = str(updated.attributes["timeout_end"]).replace("Z", "+00:00")
        self.driver.extend(session_id, datetime.fromisoformat(deadline))
        return updated
