"""/v1/sessions/{id}/stream: stored events after a point, then live ones (SSE)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from sse_starlette import EventSourceResponse, ServerSentEvent

from sessionhub.api.deps import CurrentPrincipal, HubDep, SessionId
from sessionhub.core.service import SessionService
from sessionhub.domain.errors import Invalid

router = APIRouter(prefix="/v1/sessions/{session_id}", tags=["stream"])
PAGE = 500


def start_seq(last_event_id: str | None, since: int | None) -> int:
    if last_event_id is not None:
        try:
            return max(0, int(last_event_id))
        except ValueError:
            raise Invalid("Last-Event-ID must be an event seq this stream sent") from None
    return since or 0


async def frames(
    service: SessionService, workspace_id: str, session_id: str, after: int
) -> AsyncIterator[ServerSentEvent]:
    """Subscribe first, then replay, so nothing appended in between is lost."""
    changes = service.wait_for_events(session_id)
    waiter = asyncio.ensure_future(anext(changes))
    try:
        while True:
            page = await service.events(workspace_id, session_id, after=after, limit=PAGE)
            for event in page.items:
                after = event.seq
                yield ServerSentEvent(
                    data=event.model_dump_json(), event=event.type, id=str(event.seq)
                )
            if page.next_cursor is not None:
                continue
            await waiter
            waiter = asyncio.ensure_future(anext(changes))
    finally:
        waiter.cancel()
        await changes.aclose()


@router.get(
    "/stream",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_events(
    session_id: SessionId,
    principal: CurrentPrincipal,
    hub: HubDep,
    since: Annotated[int | None, Query(ge=0)] = None,
    last_event_id: Annotated[str | None, Header(max_length=40)] = None,
) -> Any:
    await hub.service.get(principal.workspace_id, session_id)
    after = start_seq(last_event_id, since)
    return EventSourceResponse(
        frames(hub.service, principal.workspace_id, session_id, after),
        ping=hub.settings.heartbeat_interval,
    )
