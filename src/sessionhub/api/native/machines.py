"""/v1/machines: the compute profiles machine sessions launch (admin keys to change)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from sessionhub.api.deps import AdminPrincipal, CurrentPrincipal, HubDep
from sessionhub.domain.machines import Machine, MachineCreate, MachineList

router = APIRouter(prefix="/v1/machines", tags=["machines"])


@router.get("", response_model=MachineList)
async def list_machines(principal: CurrentPrincipal, hub: HubDep) -> MachineList:
    return MachineList(items=await hub.machines.list(principal.workspace_id))


@router.post("", status_code=201, response_model=Machine)
async def create_machine(spec: MachineCreate, principal: AdminPrincipal, hub: HubDep) -> Machine:
    return await hub.machines.create(principal.workspace_id, spec)


@router.get("/{machine}", response_model=Machine)
async def get_machine(machine: str, principal: CurrentPrincipal, hub: HubDep) -> Machine:
    return await hub.machines.get(principal.workspace_id, machine)


@router.delete("/{machine}", status_code=204)
async def delete_machine(machine: str, principal: AdminPrincipal, hub: HubDep) -> Response:
    await hub.machines.delete(principal.workspace_id, machine)
    return Response(status_code=204)
