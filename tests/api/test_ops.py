"""Health, readiness, metrics, OpenAPI and the request id."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.anyio


async def test_health_ready_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}
    sid = (await client.post("/v1/sessions", json={})).json()["id"]
    before = (await client.get("/metrics")).text
    await client.post(f"/v1/sessions/{sid}/events/batch", json={"events": [{"type": "n"}] * 3})
    metrics = (await client.get("/metrics")).text
    assert events_total(metrics) - events_total(before) == 3
    assert "sessionhub_sessions 1.0" in metrics
    assert (
        'sessionhub_http_requests_total{method="POST",route="/v1/sessions",status="201"}' in metrics
    )


async def test_openapi_and_docs(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/v1/openapi.json")).json()
    assert spec["paths"]["/v1/sessions"]["post"]["operationId"] == "create_session"
    assert "EventAppend" in spec["components"]["schemas"]
    assert (await client.get("/docs")).status_code == 200


async def test_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "abc123"})
    assert response.headers["x-request-id"] == "abc123"
    assert len((await client.get("/healthz")).headers["x-request-id"]) == 32


async def test_unknown_route_is_problem_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nothing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def events_total(metrics: str) -> float:
    for line in metrics.splitlines():
        if line.startswith("sessionhub_events_appended_total "):
            return float(line.split()[1])
    raise AssertionError("no events counter")
