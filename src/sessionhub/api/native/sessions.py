"""/v1/sessions: create, read, list, update, delete, fork, rewind, runs, lease timeouts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from sessionhub.api import forward
from sessionhub.api.body import json_response
from sessionhub.api.deps import CurrentPrincipal, IfMatch, Service, SessionId, current_caller
from sessionhub.api.native.hot import hot_route
from sessionhub.core.nodes import kernel_resource
from sessionhub.domain.errors import Invalid, Unsupported
from sessionhub.domain.machines import TimeoutExtension
from sessionhub.domain.models import (
    CancelResult,
    Event,
    ExecuteRequest,
    ForkRequest,
    Page,
    RewindRequest,
    RewindResult,
    Run,
    RunCreate,
    Session,
    SessionCreate,
    SessionQuery,
    SessionStatus,
    SessionUpdate,
)
from sessionhub.kinds.kernel.rules import KernelSessions
from sessionhub.kinds.machine.rules import KIND as MACHINE
from sessionhub.kinds.machine.rules import MachineSessions

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])


@router.post("", status_code=201, response_model=Session)
async def create_session(
    spec: SessionCreate,
    principal: CurrentPrincipal,
    service: Service,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    created = await service.create(principal.workspace_id, spec, idempotency_key=idempotency_key)
    headers = {"Location": f"/v1/sessions/{created.session.id}"}
    if created.replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(created.session, 201, **headers)


def parse_metadata_filters(pairs: list[str]) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition(":")
        if not sep or not key:
            raise Invalid(f"metadata filter {pair!r} must look like key:value")
        parsed[key] = value
    return parsed


@router.get("", response_model=Page[Session])
async def list_sessions(
    principal: CurrentPrincipal,
    service: Service,
    kind: str | None = None,
    parent_id: str | None = None,
    forked_from: Annotated[str | None, Query(description="Only the forks of this session.")] = None,
    status: SessionStatus | None = None,
    name: str | None = None,
    metadata: Annotated[list[str], Query(description="key:value, repeatable")] = [],  # noqa: B006
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    include_children: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    query = SessionQuery(
        kind=kind, parent_id=parent_id, forked_from=forked_from, status=status, name=name,
        metadata=parse_metadata_filters(metadata), created_after=created_after,
        created_before=created_before, include_children=include_children, limit=limit,
        cursor=cursor,
    )  # fmt: skip
    return json_response(await service.list_sessions(principal.workspace_id, query))


@hot_route(router, "/{session_id}", methods=["GET"], response_model=Session)
async def get_session(request: Request, session_id: SessionId) -> Response:
    caller = await current_caller(request)
    session = await caller.service.get(caller.workspace_id, session_id)
    return json_response(session, 200, ETag=f'"{session.version}"')


def parse_if_match(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip().removeprefix("W/").strip('"'))
    except ValueError:
        raise Invalid('If-Match must be a session version, e.g. "3"') from None


@router.patch("/{session_id}", response_model=Session)
async def update_session(
    session_id: SessionId,
    patch: SessionUpdate,
    principal: CurrentPrincipal,
    service: Service,
    response: Response,
    if_match: IfMatch = None,
) -> Session:
    session = await service.update(
        principal.workspace_id, session_id, patch, if_version=parse_if_match(if_match)
    )
    response.headers["ETag"] = f'"{session.version}"'
    return session


@router.delete("/{session_id}", status_code=204)
async def delete_session(
    session_id: SessionId, principal: CurrentPrincipal, service: Service
) -> Response:
    await service.delete(principal.workspace_id, session_id)
    return Response(status_code=204)


@router.post("/{session_id}/fork", status_code=201, response_model=Session)
async def fork_session(
    session_id: SessionId, request: ForkRequest, principal: CurrentPrincipal, service: Service
) -> Session:
    """Fork at ``at_event_id``, after message ``message_index`` (kinds with messages, such
    as ``agent``; others answer 409), or at the end."""
    return await service.fork(principal.workspace_id, session_id, request)


@router.post("/{session_id}/rewind", response_model=RewindResult)
async def rewind_session(
    session_id: SessionId, request: RewindRequest, principal: CurrentPrincipal, service: Service
) -> RewindResult:
    """Keep the events up to ``to_event_id`` or to the end of message ``message_index``."""
    return await service.rewind(principal.workspace_id, session_id, request)


@router.post("/{session_id}/runs", status_code=202, response_model=Run)
async def start_run(
    session_id: SessionId, request: RunCreate, principal: CurrentPrincipal, service: Service
) -> Run:
    """Start a run; input its kind refuses (an ``agent`` run without ``text``, …) is a 400
    and no run is recorded."""
    return await service.start_run(principal.workspace_id, session_id, request.input)


@router.post("/{session_id}/cancel", response_model=CancelResult)
async def cancel_run(
    session_id: SessionId, principal: CurrentPrincipal, service: Service
) -> CancelResult:
    return await service.cancel(principal.workspace_id, session_id)


@router.post("/{session_id}/timeout", response_model=Session)
async def extend_timeout(
    session_id: SessionId, request: TimeoutExtension, principal: CurrentPrincipal, service: Service
) -> Session:
    """Move an active machine lease's deadline ``add_seconds`` later (ComfyDeploy's
    increase-timeout); its attributes then carry the new ``timeout_end``."""
    session = await service.get(principal.workspace_id, session_id)
    if session.kind != MACHINE:
        raise Unsupported(f"a {session.kind} session has no lease timeout to extend")
    leases = MachineSessions.of(service)
    return await leases.extend(principal.workspace_id, session_id, request.add_seconds)


@router.post("/{session_id}/execute", response_model=Event)
async def execute(
    session_id: SessionId, body: ExecuteRequest, request: Request, principal: CurrentPrincipal,
    service: Service,
) -> Response:  # fmt: skip
    """Run code in a kernel session; the answer is the recorded ``execution`` event.

    The node that holds the session's kernel answers (forwarded there when that is
    another node; taken over here when that node went silent). Before its first kernel
    the lease is claimed under the id that kernel will get, so nodes racing the first
    execute start one kernel: the loser forwards to the winner."""
    kernels = KernelSessions.of(service, forward.forwarder_of(request.app).nodes)
    kernel_id = await kernels.kernel_id_to_use(principal.workspace_id, session_id)
    if kernel_id:
        resource = kernel_resource(principal.workspace_id, kernel_id)
        forwarded = await forward.to_owner(request, resource)
        if forwarded is not None:
            return forwarded
    event = await kernels.execute(
        principal.workspace_id, session_id, body.code, timeout=body.timeout
    )
    return json_response(event, 200)
