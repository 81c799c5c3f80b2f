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
    long = "x" * 300  # a caller's id is kept whatever its form, cut at 100 characters
    assert (await client.get("/healthz", headers={"X-Request-ID": long})).headers[
        "x-request-id"
    ] == "x" * 100
    sid = (await client.post("/v1/sessions", json={})).json()["id"]  # the lean path, too
    hot = await client.get(f"/v1/sessions/{sid}", headers={"X-Request-ID": "hot-1"})
    assert hot.status_code == 200 and hot.headers["x-request-id"] == "hot-1"


async def test_unknown_route_is_problem_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nothing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def events_total(metrics: str) -> float:
    for line in metrics.splitlines():
        if line.startswith("sessionhub_events_appended_total "):
            return float(line.split()[1])
    raise AssertionError("no events counter")


async def test_readyz_reports_a_schema_behind_head(client: httpx.AsyncClient) -> None:
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    store = transport.app.state.hub.service.store  # type: ignore[attr-defined]
    async with store.db.write_transaction() as conn:
        await conn.execute("UPDATE alembic_version SET version_num = 'older'")
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert "schema at older" in response.json()["detail"]


def test_access_log_lines_carry_the_request_id() -> None:
    import io

    import orjson

    from sessionhub.logs import AccessLog

    out = io.StringIO()
    AccessLog(out).emit("GET", "/v1/sessions", 200, 1.5, "rid-1")
    line = orjson.loads(out.getvalue())
    assert line["request_id"] == "rid-1" and line["status"] == 200
    assert line["logger"] == "sessionhub.access" and line["duration_ms"] == 1.5


async def test_access_lines_of_one_loop_turn_go_out_in_one_write() -> None:
    import asyncio

    from sessionhub.logs import AccessLog

    writes: list[str] = []

    class Out:
        def write(self, text: str) -> None:
            writes.append(text)

    log = AccessLog(Out())  # type: ignore[arg-type]
    log.emit("POST", "/v1/sessions/a/events", 201, 1.0, "rid-1")
    log.emit("POST", "/v1/sessions/b/events", 201, 1.0, "rid-2")
    assert writes == []
    await asyncio.sleep(0)
    assert len(writes) == 1 and writes[0].count("\n") == 2
    assert "rid-1" in writes[0] and "rid-2" in writes[0]
