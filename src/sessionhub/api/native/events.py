"""/v1/sessions/{id}/events: append (one or a batch), page, tail, get one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from sessionhub.api.body import body_schema, json_response, read_model
from sessionhub.api.deps import CurrentPrincipal, Service, SessionId
from sessionhub.core.models import Event, EventAppend, EventBatch, EventList, Page

router = APIRouter(prefix="/v1/sessions/{session_id}/events", tags=["events"])


@router.post("", status_code=201, response_model=Event, openapi_extra=body_schema(EventAppend))
async def append_event(
    session_id: SessionId, request: Request, principal: CurrentPrincipal, service: Service
) -> Response:
    body = await read_model(request, EventAppend)
    created = await service.append(
        principal.workspace_id, session_id, [body], expected_seq=body.expected_seq
    )
    return json_response(created[0], 201)


@router.post(
    "/batch", status_code=201, response_model=EventList, openapi_extra=body_schema(EventBatch)
)
async def append_events(
    session_id: SessionId, request: Request, principal: CurrentPrincipal, service: Service
) -> Response:
    body = await read_model(request, EventBatch)
    created = await service.append(
        principal.workspace_id, session_id, body.events, expected_seq=body.expected_seq
    )
    return json_response(EventList(items=created), 201)


@router.get("", response_model=Page[Event])
async def list_events(
    session_id: SessionId,
    principal: CurrentPrincipal,
    service: Service,
    after: Annotated[int, Query(ge=0, description="Return events with seq > after.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    page = await service.events(principal.workspace_id, session_id, after=after, limit=limit)
    return json_response(page)


@router.get("/tail", response_model=EventList)
async def tail_events(
    session_id: SessionId,
    principal: CurrentPrincipal,
    service: Service,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> Response:
    events = await service.tail(principal.workspace_id, session_id, limit=limit)
    return json_response(EventList(items=events))


@router.get("/{event_id}", response_model=Event)
async def get_event(
    session_id: SessionId,
    event_id: str,
    principal: CurrentPrincipal,
    service: Service,
) -> Response:
    return json_response(await service.event(principal.workspace_id, session_id, event_id))
