"""Runs: single flight per session, and cancel, with a driver that waits until cancelled."""

from __future__ import annotations

import anyio
import httpx
import pytest

pytestmark = pytest.mark.anyio


async def wait_for_status(client: httpx.AsyncClient, sid: str, status: str) -> None:
    with anyio.fail_after(10):
        while (await client.get(f"/v1/sessions/{sid}")).json()["status"] != status:
            await anyio.sleep(0.02)


async def wait_until_started(client: httpx.AsyncClient, sid: str) -> None:
    """The driver's first append lands after the 202; cancel only a run that has begun."""
    with anyio.fail_after(10):
        while not (await client.get(f"/v1/sessions/{sid}/events")).json()["items"]:
            await anyio.sleep(0.02)


async def test_second_run_refused_then_cancel(client: httpx.AsyncClient) -> None:
    sid = (await client.post("/v1/sessions", json={"kind": "test-wait"})).json()["id"]
    first = await client.post(f"/v1/sessions/{sid}/runs", json={"input": {"n": 1}})
    assert first.status_code == 202 and first.json()["status"] == "running"
    second = await client.post(f"/v1/sessions/{sid}/runs", json={"input": {}})
    assert second.status_code == 409 and second.json()["title"] == "Run Already Active"
    await wait_until_started(client, sid)
    cancelled = await client.post(f"/v1/sessions/{sid}/cancel")
    assert cancelled.json() == {"cancelled": True, "run_id": first.json()["id"]}
    await wait_for_status(client, sid, "idle")
    events = (await client.get(f"/v1/sessions/{sid}/events")).json()["items"]
    assert [e["type"] for e in events] == ["run.started"]
    assert (await client.post(f"/v1/sessions/{sid}/cancel")).json() == {
        "cancelled": False,
        "run_id": None,
    }
    again = await client.post(f"/v1/sessions/{sid}/runs", json={"input": {"finish": True}})
    assert again.status_code == 202
    await wait_for_status(client, sid, "idle")


async def test_generic_sessions_have_no_runs(client: httpx.AsyncClient) -> None:
    sid = (await client.post("/v1/sessions", json={})).json()["id"]
    response = await client.post(f"/v1/sessions/{sid}/runs", json={})
    assert response.status_code == 409 and "do not support runs" in response.json()["detail"]


async def test_deleting_a_session_cancels_its_run(client: httpx.AsyncClient) -> None:
    sid = (await client.post("/v1/sessions", json={"kind": "test-wait"})).json()["id"]
    await client.post(f"/v1/sessions/{sid}/runs", json={})
    await wait_until_started(client, sid)
    assert (await client.delete(f"/v1/sessions/{sid}")).status_code == 204
    assert (await client.get(f"/v1/sessions/{sid}")).status_code == 404
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    assert transport.app.state.hub.service.runs.active == 0  # type: ignore[attr-defined]
