"""Two server instances on one PostgreSQL behave as one service.

Each `LiveServer` here is a full server — its own store, writer, connections,
event bus and run supervisor — sharing only the database, as two processes do
(`test_stream.py` also runs two real `sessionhub serve` processes).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from sessionhub.api.app import create_app
from sessionhub.config import Settings
from sessionhub.testing.drivers import WaitingDriver
from sessionhub.testing.fixtures import LiveServer

pytestmark = pytest.mark.postgres


@pytest.fixture
def pair(postgres_url: str, tmp_path: object) -> Iterator[tuple[str, str]]:
    def server(name: str) -> LiveServer:
        settings = Settings(
            data_dir=f"{tmp_path}/{name}",
            database_url=postgres_url,
            no_auth=True,
            log_format="text",
        )
        return LiveServer(create_app(settings, drivers=[WaitingDriver()]))

    with server("a") as a, server("b") as b:
        yield a.url, b.url


def wait_status(url: str, sid: str, status: str) -> None:
    deadline = time.monotonic() + 10
    while httpx.get(f"{url}/v1/sessions/{sid}").json()["status"] != status:
        assert time.monotonic() < deadline, f"session never became {status}"
        time.sleep(0.05)


def test_cancel_through_b_stops_the_run_owned_by_a(pair: tuple[str, str]) -> None:
    a, b = pair
    sid = httpx.post(f"{a}/v1/sessions", json={"kind": "test-wait"}).json()["id"]
    run = httpx.post(f"{a}/v1/sessions/{sid}/runs", json={}).json()
    refused = httpx.post(f"{b}/v1/sessions/{sid}/runs", json={})
    assert refused.status_code == 409
    answer = httpx.post(f"{b}/v1/sessions/{sid}/cancel").json()
    assert answer == {"cancelled": True, "run_id": run["id"]}
    wait_status(b, sid, "idle")


def test_appends_and_deletes_seen_by_both(pair: tuple[str, str]) -> None:
    a, b = pair
    sid = httpx.post(f"{a}/v1/sessions", json={}).json()["id"]
    httpx.post(f"{a}/v1/sessions/{sid}/events", json={"type": "note"}).raise_for_status()
    assert httpx.get(f"{b}/v1/sessions/{sid}").json()["last_seq"] == 1
    assert httpx.delete(f"{b}/v1/sessions/{sid}").status_code == 204
    assert httpx.get(f"{a}/v1/sessions/{sid}").status_code == 404


def terminate(postgres_url: str, application_name: str) -> int:
    import asyncio

    import asyncpg

    async def kill() -> int:
        conn = await asyncpg.connect(postgres_url)
        try:
            rows = await conn.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = $1 AND datname = current_database()",
                application_name,
            )
            return len(rows)
        finally:
            await conn.close()

    return asyncio.run(kill())


def test_survives_the_database_dropping_its_connections(
    pair: tuple[str, str], postgres_url: str
) -> None:
    import threading

    from tests.api.test_stream import append, read_frames

    a, b = pair
    sid = httpx.post(f"{a}/v1/sessions", json={}).json()["id"]
    writers = Settings().pg_writers
    assert terminate(postgres_url, "sessionhub-listener") == 2
    assert terminate(postgres_url, "sessionhub-writer") == 2 * writers
    statuses: list[int] = []
    while not statuses or statuses[-1] != 201:
        assert len(statuses) <= writers, f"writes did not recover: {statuses}"
        statuses.append(httpx.post(f"{a}/v1/sessions/{sid}/events", json={"type": "n"}).status_code)
    assert set(statuses) <= {201, 503}
    last = httpx.get(f"{b}/v1/sessions/{sid}").json()["last_seq"]
    with httpx.stream("GET", f"{b}/v1/sessions/{sid}/stream?since={last}", timeout=20) as r:
        threading.Timer(1.0, append, (a, sid, 2)).start()
        frames = read_frames(r, 2)
    assert [int(f["id"]) for f in frames] == [last + 1, last + 2]
