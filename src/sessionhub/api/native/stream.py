"""/v1/sessions/{id}/stream: stored events after a point, then live ones (SSE)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from sse_starlette import EventSourceResponse, ServerSentEvent

from sessionhub.api.deps import CurrentPrincipal, HubDep, SessionId
from sessionhub.core.service import SessionService
from sessionhub.domain.errors import Invalid
from sessionhub.domain.models import Event

router = APIRouter(prefix="/v1/sessions/{session_id}", tags=["stream"])


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
    """Every stored event after ``after``, then each new one (``SessionService.follow``)."""
    async with aclosing(service.follow(workspace_id, session_id, after=after)) as followed:
        async for item in followed:
            if isinstance(item, Event):
                yield ServerSentEvent(
                    data=item.model_dump_json(), event=item.type, id=str(item.seq)
                )


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
