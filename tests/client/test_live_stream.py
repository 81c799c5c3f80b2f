"""``stream()`` against a live server: ASGITransport buffers whole bodies, so SSE needs a socket."""

from __future__ import annotations

import time

import pytest

from sessionhub import AsyncClient, Client
from sessionhub.testing.fixtures import LiveServer


@pytest.fixture
def live_url(live_server: LiveServer) -> str:
    return live_server.url


def test_stream_replays_then_follows_live_events(live_url: str) -> None:
    with Client(base_url=live_url, timeout=10) as client:
        session = client.create_session()
        client.append_events(session.id, [{"type": "message"}, {"type": "tool_call"}])
        with client.stream(session.id, since=0) as stream:
            assert [next(stream).seq, next(stream).seq] == [1, 2]
            time.sleep(1.5)  # a heartbeat (every 1 s in the test settings) goes by
            client.append_event(session.id, type="state", payload={"live": True})
            live = next(stream)
            assert (live.seq, live.type, live.payload) == (3, "state", {"live": True})
            assert stream.last_event_id == "3"
        client.append_event(session.id, type="message")
        with client.stream(session.id, last_event_id="3") as resumed:
            assert next(resumed).seq == 4


@pytest.mark.anyio
async def test_async_stream_against_live_server(live_url: str) -> None:
    async with AsyncClient(base_url=live_url, timeout=10) as client:
        session = await client.create_session()
        await client.append_event(session.id, type="message")
        async with client.stream(session.id) as stream:
            first = await anext(stream)
            await client.append_event(session.id, type="message", payload={"n": 2})
            second = await anext(stream)
        assert (first.seq, second.seq, second.payload) == (1, 2, {"n": 2})
