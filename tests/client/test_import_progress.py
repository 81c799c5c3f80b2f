"""An import that shows the server's progress (``server_progress``), against a live server."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest

from sessionhub import AlreadyExists, AsyncClient, Client, Invalid, ProtocolError
from sessionhub.client._import import ImportFeed
from sessionhub.testing.fixtures import LiveServer

EVENTS = 2500  # three chunks of the server's 1000


@pytest.fixture
def export_file(live_server: LiveServer, tmp_path: Path) -> Path:
    with Client(base_url=live_server.url, timeout=30) as client:
        session = client.create_session()
        for _ in range(EVENTS // 500):
            client.append_events(session.id, [{"type": "message"}] * 500)
        path = tmp_path / "export.json"
        with path.open("wb") as out:
            client.export_session_to(session.id, out)
    return path


def test_the_server_reports_each_chunk_it_stores(
    live_server: LiveServer, export_file: Path
) -> None:
    seen: list[tuple[int, int]] = []
    with Client(base_url=live_server.url, timeout=30) as client:
        session = client.import_session(export_file, server_progress=lambda *p: seen.append(p))
        assert session.totals.events == EVENTS
        assert seen == [(0, EVENTS), (1000, EVENTS), (2000, EVENTS), (EVENTS, EVENTS)]
        # the exported session is still there: keeping its id fails before the import
        # has made anything, so the answer is the usual 409, not a stream
        with pytest.raises(AlreadyExists):
            client.import_session(export_file, keep_ids=True, server_progress=print)


@pytest.mark.anyio
async def test_the_async_client_follows_it_too(live_server: LiveServer, export_file: Path) -> None:
    seen: list[tuple[int, int]] = []
    async with AsyncClient(base_url=live_server.url, timeout=30) as client:
        session = await client.import_session(
            export_file, server_progress=lambda *p: seen.append(p)
        )
    assert session.totals.events == EVENTS and seen[-1] == (EVENTS, EVENTS)


def test_the_wire_is_json_lines_ending_with_the_session(
    live_server: LiveServer, export_file: Path
) -> None:
    answer = httpx.post(
        f"{live_server.url}/v1/sessions/import", content=export_file.read_bytes(),
        headers={"Content-Type": "application/json", "Accept": "application/x-ndjson"},
        timeout=30,
    )  # fmt: skip
    assert answer.status_code == 201
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    lines = [orjson.loads(line) for line in answer.text.splitlines()]
    assert [line["type"] for line in lines] == ["progress"] * 4 + ["session"]
    assert lines[-1]["session"]["totals"]["events"] == EVENTS


def test_a_failure_after_the_session_exists_is_the_last_line() -> None:
    feed = ImportFeed(lambda done, total: None)
    feed.line('{"type": "progress", "events_done": 0, "events_total": 5}')
    problem = {"type": "urn:x", "title": "Bad Request", "status": 400, "detail": "bad event"}
    with pytest.raises(Invalid, match="bad event"):
        feed.line(orjson.dumps({"type": "error", "problem": problem}).decode())
    with pytest.raises(ProtocolError):
        ImportFeed(print).line("not json")
    with pytest.raises(ProtocolError, match="without the session"):
        ImportFeed(print).end()
