"""Reading a session's event stream with httpx-sse (the WHATWG ``text/event-stream`` rules).

httpx-sse decodes the stream; this adds what the client needs on top: the events as
:class:`Event` models, the last ``id:`` seen (to resume), and a stream that is not
``text/event-stream`` at all as a :class:`ProtocolError`. An event without data (a
keep-alive after an ``id:`` was seen, which httpx-sse hands on) carries no event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import httpx
from httpx_sse import EventSource, ServerSentEvent, SSEError

from sessionhub.client._base import parse_sse_event
from sessionhub.client._exceptions import ProtocolError
from sessionhub.domain.models import Event

__all__ = ["EventReader", "ServerSentEvent"]


class EventReader:
    """Turns one streamed response into events, remembering the last event id."""

    def __init__(self) -> None:
        self.last_event_id: str | None = None
        """The last ``id:`` seen; it survives across events, as in a browser."""

    def _event(self, sse: ServerSentEvent) -> Event | None:
        if sse.id:
            self.last_event_id = sse.id
        return parse_sse_event(sse.data) if sse.data else None

    def events(self, response: httpx.Response) -> Iterator[Event]:
        with not_an_event_stream():
            for sse in EventSource(response).iter_sse():
                event = self._event(sse)
                if event is not None:
                    yield event

    async def aevents(self, response: httpx.Response) -> AsyncIterator[Event]:
        with not_an_event_stream():
            async for sse in EventSource(response).aiter_sse():
                event = self._event(sse)
                if event is not None:
                    yield event


@contextmanager
def not_an_event_stream() -> Iterator[None]:
    try:
        yield
    except SSEError as exc:
        raise ProtocolError(f"the stream is not an event stream: {exc}") from exc
