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
            data_dir=f"{tmp_path}/{name}", database_url=postgres_url, no_auth=True, log_format="text"
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
