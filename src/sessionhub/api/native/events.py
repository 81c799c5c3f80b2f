"""/v1/sessions/{id}/events: append (one or a batch), page, tail, get one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from sessionhub.api.body import body_schema, json_response, read_model
from sessionhub.api.deps import CallerDep, SessionId, current_caller
from sessionhub.api.native.hot import hot_route
from sessionhub.api.ops import EVENTS
from sessionhub.domain.models import (
    INT64_MAX,
    Event,
    EventAppend,
    EventBatch,
    EventList,
    Page,
)

router = APIRouter(prefix="/v1/sessions/{session_id}/events", tags=["events"])


@hot_route(
    router, "", methods=["POST"], status_code=201, response_model=Event,
    openapi_extra=body_schema(EventAppend),
)  # fmt: skip
async def append_event(request: Request, session_id: SessionId) -> Response:
    caller = await current_caller(request)
    body = await read_model(request, EventAppend)
    created = await caller.service.append(
        caller.workspace_id, session_id, [body], expected_seq=body.expected_seq
    )
    EVENTS.inc()
    return json_response(created[0], 201)


@router.post(
    "/batch", status_code=201, response_model=EventList, openapi_extra=body_schema(EventBatch)
)
async def append_events(session_id: SessionId, request: Request, caller: CallerDep) -> Response:
    body = await read_model(request, EventBatch)
    created = await caller.service.append(
        caller.workspace_id, session_id, body.events, expected_seq=body.expected_seq
    )
    EVENTS.inc(len(created))
    return json_response(EventList(items=created), 201)


@router.get("", response_model=Page[Event])
async def list_events(
    session_id: SessionId,
    caller: CallerDep,
    after: Annotated[
        int, Query(ge=0, le=INT64_MAX, description="Return events with seq > after.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    page = await caller.service.events(caller.workspace_id, session_id, after=after, limit=limit)
    return json_response(page)


@router.get("/tail", response_model=EventList)
async def tail_events(
    session_id: SessionId,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> Response:
    events = await caller.service.tail(caller.workspace_id, session_id, limit=limit)
    return json_response(EventList(items=events))


@router.get("/{event_id}", response_model=Event)
async def get_event(
    session_id: SessionId,
    event_id: str,
    caller: CallerDep,
) -> Response:
    return json_response(await caller.service.event(caller.workspace_id, session_id, event_id))
