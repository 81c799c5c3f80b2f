"""Routes: wire in → `MachineSessions` → wire out."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from sessionhub.api.deps import authenticate
from sessionhub.api.dialects.comfydeploy.wire import (
    CreateSessionBody,
    CreateSessionResponse,
    DeleteSessionResponse,
    GPUEventModel,
    IncreaseTimeoutBody,
    MachineGPU,
    Message,
    SessionOut,
)
from sessionhub.core.hub import Hub
from sessionhub.domain.attributes.machine import MachineAttributes
from sessionhub.domain.models import Principal, Session
from sessionhub.kinds.machine.rules import MachineSessions

router = APIRouter()
GPUS = {g.value for g in MachineGPU}


class Caller:
    def __init__(self, principal: Principal, machines: MachineSessions) -> None:
        self.principal = principal
        self.machines = machines

    @property
    def workspace_id(self) -> str:
        return self.principal.workspace_id


async def caller(request: Request) -> Caller:
    hub: Hub = request.app.state.hub
    principal = await authenticate(request, hub)
    return Caller(principal, MachineSessions.of(hub.service))


CallerDep = Annotated[Caller, Depends(caller)]


def minutes(attrs: MachineAttributes) -> int:
    """ComfyDeploy counts a timeout in whole minutes, rounded up."""
    return max(1, math.ceil(attrs.timeout_seconds / 60))


def session_out(session: Session) -> SessionOut:
    attrs = MachineAttributes.of(session)
    return SessionOut(
        session_id=session.id, gpu_event_id=str(attrs.gpu_event_id), url=attrs.url or "",
        gpu=attrs.gpu or "", created_at=session.created_at, timeout=minutes(attrs),
        machine_id=str(attrs.machine_ref or attrs.machine_id),
    )  # fmt: skip


def gpu_event(session: Session, principal: Principal) -> GPUEventModel:
    attrs = MachineAttributes.of(session)
    return GPUEventModel(
        id=str(attrs.gpu_event_id), user_id=principal.key_id or session.workspace_id,
        org_id=session.workspace_id, machine_id=attrs.machine_ref,
        start_time=attrs.start_time, end_time=attrs.end_time,
        gpu=MachineGPU(attrs.gpu) if attrs.gpu in GPUS else None,
        created_at=session.created_at, updated_at=session.updated_at,
        session_timeout=minutes(attrs), session_id=session.id,
        tunnel_url=attrs.url or None, cost=attrs.cost,
    )  # fmt: skip


@router.post("/session", response_model=CreateSessionResponse, response_model_exclude_none=True)
async def create_session(body: CreateSessionBody, who: CallerDep) -> CreateSessionResponse:
    launched = await who.machines.launch(
        who.workspace_id, body.machine_id, gpu=body.gpu.value if body.gpu else None,
        timeout_seconds=60.0 * (body.timeout or 15), wait=body.wait_for_server,
    )  # fmt: skip
    return CreateSessionResponse(session_id=launched.session.id, url=launched.url)


@router.post("/session/increase-timeout", response_model=Message)
async def increase_timeout(body: IncreaseTimeoutBody, who: CallerDep) -> Message:
    await who.machines.extend(
        who.workspace_id, body.session_id, 60.0 * body.timeout, machine=body.machine_id
    )
    return Message(message="Timeout increased successfully")


@router.get("/session/{session_id}", response_model=SessionOut)
async def get_session(session_id: str, who: CallerDep) -> SessionOut:
    return session_out(await who.machines.active(who.workspace_id, session_id))


@router.get("/sessions", response_model=list[GPUEventModel])
async def list_sessions(
    who: CallerDep, machine_id: Annotated[str | None, Query(max_length=200)] = None
) -> list[GPUEventModel]:
    sessions = await who.machines.list_active(who.workspace_id, machine_id)
    return [gpu_event(s, who.principal) for s in sessions]


@router.delete("/session/{session_id}", response_model=DeleteSessionResponse)
async def delete_session(session_id: str, who: CallerDep) -> DeleteSessionResponse:
    await who.machines.stop(who.workspace_id, session_id)
    return DeleteSessionResponse(success=True)
