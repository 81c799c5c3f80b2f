"""``stream()`` against a live server: ASGITransport buffers whole bodies, so SSE needs a socket."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from sessionhub import AsyncClient, Client
from sessionhub.api.app import create_app
from sessionhub.config import Settings


@pytest.fixture
def live_url(tmp_path: Path) -> Iterator[str]:
    """A real uvicorn on 127.0.0.1 and a free port, in a thread, with fast heartbeats."""
    settings = Settings(data_dir=tmp_path / "data", no_auth=True, heartbeat_interval=0.1)
    config = uvicorn.Config(
        create_app(settings),
        log_level="warning",
        ws="none",
        lifespan="on",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_stream_replays_then_follows_live_events(live_url: str) -> None:
    with Client(base_url=live_url, timeout=10) as client:
        session = client.create_session()
        client.append_events(session.id, [{"type": "message"}, {"type": "tool_call"}])
        with client.stream(session.id, since=0) as stream:
            assert [next(stream).seq, next(stream).seq] == [1, 2]
            time.sleep(0.3)  # several heartbeats go by
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
