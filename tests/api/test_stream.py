"""The live SSE stream: replay after Last-Event-ID, then live events, across processes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from sessionhub.testing.fixtures import LiveServer, free_port


def read_frames(source: httpx.Response | Iterator[str], count: int) -> list[dict[str, Any]]:
    """Parse SSE frames until `count` data frames arrived (comments are heartbeats).

    A caller that keeps reading the stream afterwards passes the response's line
    iterator and holds on to it: a line iterator dropped half-way is closed, and
    closing it closes the response (the server then sees the client go)."""
    lines = source.iter_lines() if isinstance(source, httpx.Response) else source
    frames: list[dict[str, Any]] = []
    frame: dict[str, Any] = {}
    for line in lines:
        if line == "":
            if "data" in frame:
                frames.append(frame)
                if len(frames) == count:
                    return frames
            frame = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            frame[field] = value.lstrip(" ")
    return frames


def append(url: str, sid: str, n: int) -> None:
    body = {"events": [{"type": "note", "payload": {"n": i}} for i in range(n)]}
    httpx.post(f"{url}/v1/sessions/{sid}/events/batch", json=body).raise_for_status()


def test_replay_then_live(live_server: LiveServer) -> None:
    url = live_server.url
    sid = httpx.post(f"{url}/v1/sessions", json={}).json()["id"]
    append(url, sid, 5)
    headers = {"Last-Event-ID": "3"}
    with httpx.stream("GET", f"{url}/v1/sessions/{sid}/stream", headers=headers, timeout=20) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        threading.Timer(0.3, append, (url, sid, 2)).start()
        frames = read_frames(r, 4)
    assert [f["id"] for f in frames] == ["4", "5", "6", "7"]
    assert {f["event"] for f in frames} == {"note"}
    assert orjson.loads(frames[2]["data"])["payload"] == {"n": 0}


def test_since_parameter_and_unknown_session(live_server: LiveServer) -> None:
    url = live_server.url
    sid = httpx.post(f"{url}/v1/sessions", json={}).json()["id"]
    append(url, sid, 3)
    with httpx.stream("GET", f"{url}/v1/sessions/{sid}/stream?since=2", timeout=20) as r:
        assert [f["id"] for f in read_frames(r, 1)] == ["3"]
    assert httpx.get(f"{url}/v1/sessions/nope/stream").status_code == 404
    bad = httpx.get(f"{url}/v1/sessions/{sid}/stream", headers={"Last-Event-ID": "x"})
    assert bad.status_code == 400


def test_a_closed_stream_stops_following(live_server: LiveServer) -> None:
    url = live_server.url
    bus = live_server.server.config.app.state.hub.bus
    sid = httpx.post(f"{url}/v1/sessions", json={}).json()["id"]
    append(url, sid, 1)
    with httpx.stream("GET", f"{url}/v1/sessions/{sid}/stream", timeout=20) as r:
        lines = r.iter_lines()  # held open until the `with` ends
        assert [f["id"] for f in read_frames(lines, 1)] == ["1"]
        assert bus.watching(sid) == 1
    deadline = time.monotonic() + 10
    while bus.watching(sid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bus.watching(sid) == 0


@pytest.fixture
def two_servers(postgres_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two `sessionhub serve` processes sharing one PostgreSQL database."""
    procs, urls = [], []
    for name in ("a", "b"):
        port = free_port()
        env = {**os.environ, "SESSIONHUB_DATABASE_URL": postgres_url, "SESSIONHUB_NO_AUTH": "1",
               "SESSIONHUB_DATA_DIR": str(tmp_path / name), "SESSIONHUB_PORT": str(port),
               "SESSIONHUB_LOG_LEVEL": "WARNING"}  # fmt: skip
        procs.append(subprocess.Popen([sys.executable, "-m", "sessionhub", "serve"], env=env))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url in urls:
            wait_healthy(url)
        yield urls[0], urls[1]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)


def wait_healthy(url: str, timeout: float = 60) -> None:
    """Poll ``/readyz`` until the server at ``url`` answers ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not become ready")


@pytest.mark.postgres
def test_event_appended_on_a_reaches_stream_on_b(two_servers: tuple[str, str]) -> None:
    a, b = two_servers
    sid = httpx.post(f"{a}/v1/sessions", json={}).json()["id"]
    with httpx.stream("GET", f"{b}/v1/sessions/{sid}/stream", timeout=20) as r:
        threading.Timer(0.3, append, (a, sid, 3)).start()
        frames = read_frames(r, 3)
    assert [f["id"] for f in frames] == ["1", "2", "3"]
    assert httpx.get(f"{b}/v1/sessions/{sid}").json()["last_seq"] == 3
