"""Registered machines (compute profiles): the small service the API, CLI and kind use."""

from __future__ import annotations

from dataclasses import dataclass

from sessionhub.core.ports import MachineProfiles
from sessionhub.domain.machines import Machine, MachineCreate, SlotClaim
from sessionhub.domain.models import Session
from sessionhub.store.base import SessionStore


@dataclass
class MachineService(MachineProfiles):
    store: SessionStore

    async def create(
        self, workspace_id: str, spec: MachineCreate, *, host: bool = False
    ) -> Machine:
        """``host`` only from the operator's CLI: such a machine may run unsandboxed."""
        return await self.store.create_machine(workspace_id=workspace_id, spec=spec, host=host)

    async def get(self, workspace_id: str, machine: str) -> Machine:
        return await self.store.get_machine(workspace_id=workspace_id, machine=machine)

    async def list(self, workspace_id: str | None) -> list[Machine]:
        """A workspace's machines; ``None`` lists every workspace's (the admin CLI)."""
        return await self.store.list_machines(workspace_id=workspace_id)

    async def delete(self, workspace_id: str | None, machine: str) -> None:
        await self.store.delete_machine(workspace_id=workspace_id, machine=machine)

    async def claim_slot(self, session: Session, claim: SlotClaim) -> Session:
        return await self.store.claim_slot(
            workspace_id=session.workspace_id, session_id=session.id, claim=claim
        )
