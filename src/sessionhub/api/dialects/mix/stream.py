"""GET /stream?sessionId=: Mix's SSE stream, replayable with ``Last-Event-ID``.

Every frame carries ``id:`` (the event's seq, so a reconnect resumes exactly),
``event:`` (one of Mix's 16 names) and a JSON ``data:`` object. Heartbeats are
``heartbeat`` events well inside the 30 s read timeouts clients commonly use.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Query
from sse_starlette import EventSourceResponse, ServerSentEvent

from sessionhub.api.deps import Caller
from sessionhub.api.dialects.mix.common import MixCaller, load_session
from sessionhub.api.dialects.mix.errors import MixError
from sessionhub.drivers.agent import transcript

router = APIRouter()
PAGE = 500


def frame(seq: int, name: str, data: object, retry: int = 30_000) -> ServerSentEvent:
    return ServerSentEvent(data=orjson.dumps(data).decode(), event=name, id=str(seq), retry=retry)


async def frames(caller: Caller, session_id: str, after: int) -> AsyncIterator[ServerSentEvent]:
    """Subscribe first, then replay, so nothing appended in between is lost."""
    service = caller.service
    flag = service.bus.watch(session_id)
    beat = caller.hub.settings.heartbeat_interval
    try:
        yield frame(after, "connected", {"sessionId": session_id})
        while True:
            flag.clear()
            page = await service.events(caller.workspace_id, session_id, after=after, limit=PAGE)
            for event in page.items:
                after = event.seq
                if event.type.startswith(transcript.STREAM_PREFIX):
                    name = event.type[len(transcript.STREAM_PREFIX) :]
                    yield frame(event.seq, name, event.payload)
            if page.next_cursor is not None:
                continue
            try:
                await asyncio.wait_for(flag.wait(), beat)
            except TimeoutError:
                yield frame(after, "heartbeat", {"type": "ping"}, retry=45_000)
    finally:
        service.bus.unwatch(session_id, flag)


@router.get("/stream")
async def stream_events(
    caller: MixCaller,
    session_id: Annotated[str, Query(alias="sessionId")] = "",
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    if not session_id:
        raise MixError("sessionId is required")
    session = await load_session(caller, session_id)
    after = session.last_seq
    if last_event_id:
        if not last_event_id.isdigit():
            raise MixError("Last-Event-ID must be an id this stream sent")
        after = min(int(last_event_id), session.last_seq)
    return EventSourceResponse(
        frames(caller, session_id, after), headers={"Cache-Control": "no-cache"}
    )
