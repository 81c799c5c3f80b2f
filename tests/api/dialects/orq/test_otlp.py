"""OTLP/HTTP trace export to /v1/traces: the real exporter (protobuf) and OTLP/JSON.

Spans roll up into the Orq thread their ``session.id`` names, also after a rewind.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from sessionhub.testing import sdkenv
from tests.api.dialects.orq.conftest import OrqServer

HERE = Path(__file__).parent
OTEL = ["opentelemetry-sdk==1.45.2", "opentelemetry-exporter-otlp-proto-http==1.45.2"]


def thread(http: httpx.Client, ref: str) -> dict[str, Any]:
    reply = http.get(f"/orq/v2/sessions/{ref}")
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def test_real_exporter_rolls_up_and_rewinds(orq_server: OrqServer) -> None:
    server, key = orq_server, orq_server.key
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=30) as http:
        zero = {"input_cost": 0, "output_cost": 0, "total_cost": 0}
        made = http.post("/orq/v2/sessions", json={
            "external_id": "made-by-orq", "duration": 0, "contact_ids": [], "billing": zero,
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "traces_count": 0, "tags": [],
        })  # fmt: skip
        assert made.status_code == 200, made.text
        python = sdkenv.python_env("otel-1.45.2", OTEL)
        done = sdkenv.run([str(python), str(HERE / "otel_client.py"), server.url, key,
                           made.json()["_id"]], timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout.strip().splitlines()[-1])
        assert out == {"flush1": True, "flush2": True, "flush3": True,
                       "wrong_key": "FAILURE", "no_key": "FAILURE"}  # fmt: skip

        created = thread(http, "otel-thread")
        assert created["traces_count"] == 2
        assert created["usage"] == {"prompt_tokens": 20, "completion_tokens": 10,
                                    "total_tokens": 30}  # fmt: skip
        assert created["billing"] == {"input_cost": 0.4, "output_cost": 0.6, "total_cost": 1.0}
        assert created["duration"] == 101 + 102
        assert created["started_at"] == "2030-03-17T17:46:41.000Z"
        assert created["updated_at"] == "2030-03-17T17:46:42.102Z"
        by_id = thread(http, "made-by-orq")
        assert by_id["traces_count"] == 1 and by_id["duration"] == 103
        assert by_id["usage"]["total_tokens"] == 15

        sid = created["_id"]
        events = http.get(f"/v1/sessions/{sid}/events", params={"limit": 100}).json()["items"]
        assert [e["type"] for e in events].count("trace") == 2
        first_trace = events[0]["payload"]["trace_id"]
        last_of_first = [e for e in events if e["payload"]["trace_id"] == first_trace][-1]
        assert all(e["payload"]["trace_id"] == first_trace
                   for e in events[: events.index(last_of_first) + 1])  # fmt: skip
        rewound = http.post(f"/v1/sessions/{sid}/rewind", json={"to_event_id": last_of_first["id"]})
        assert rewound.status_code == 200, rewound.text
        after = thread(http, "otel-thread")
        assert after["traces_count"] == 1 and after["duration"] == 101
        assert after["usage"] == {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        assert after["billing"] == {"input_cost": 0.2, "output_cost": 0.3, "total_cost": 0.5}
        assert after["updated_at"] == "2030-03-17T17:46:41.101Z"

        unauthenticated = httpx.post(f"{server.url}/v1/traces", json={"resourceSpans": []})
        assert unauthenticated.status_code == 401
        assert unauthenticated.json()["code"] == 16


def kv(key: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"key": key, "value": value}


def otlp_json(*spans: dict[str, Any], resource: list[dict[str, Any]] | None = None) -> bytes:
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": resource or []},
                "scopeSpans": [{"scope": {"name": "t"}, "spans": list(spans)}],
            }
        ]
    }
    return json.dumps(body).encode()  # fmt: skip


def span(span_id: str, parent: str = "", **attrs: dict[str, Any]) -> dict[str, Any]:
    return {
        "traceId": "5b8efff798038103d269b633813fc60c", "spanId": span_id,
        "parentSpanId": parent, "name": f"s-{span_id}", "kind": 1,
        "startTimeUnixNano": "1900000000000000000", "endTimeUnixNano": 1900000000250000000,
        "attributes": [kv(k.replace("__", "."), v) for k, v in attrs.items()],
        "status": {"code": 1},
    }  # fmt: skip


JSON = {"Content-Type": "application/json"}
PROTO = {"Content-Type": "application/x-protobuf"}


@pytest.mark.anyio
async def test_otlp_json(client: httpx.AsyncClient) -> None:
    resource = [kv("session.id", {"stringValue": "json-thread"})]
    body = otlp_json(
        span("eee19b7ec3c1b174", gen_ai__usage__input_tokens={"intValue": "7"},
             gen_ai__usage__cost={"doubleValue": 0.25},
             tags={"arrayValue": {"values": [{"stringValue": "a"}, {"boolValue": True}]}}),
        span("eee19b7ec3c1b175", "eee19b7ec3c1b174",
             gen_ai__usage__output_tokens={"intValue": 3},
             extra={"kvlistValue": {"values": [kv("n", {"intValue": "1"})]}}),
        span("eee19b7ec3c1b176", session__id={"stringValue": ""}),
        resource=resource,
    )  # fmt: skip
    reply = await client.post("/v1/traces", content=body, headers=JSON)
    assert reply.status_code == 200, reply.text
    assert reply.json()["partialSuccess"]["rejectedSpans"] == "1", reply.text
    assert "session.id" in reply.json()["partialSuccess"]["errorMessage"]
    got = (await client.get("/orq/v2/sessions/json-thread")).json()
    assert got["traces_count"] == 1 and got["duration"] == 250
    assert got["usage"] == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    assert got["billing"]["total_cost"] == 0.25
    events = (await client.get(f"/v1/sessions/{got['_id']}/events")).json()["items"]
    assert events[0]["payload"]["attributes"]["tags"] == ["a", True]
    assert events[1]["payload"]["attributes"]["extra"] == {"n": 1}
    assert events[1]["payload"]["parent_span_id"] == "eee19b7ec3c1b174"
    gz = {**JSON, "Content-Encoding": "gzip"}
    again = await client.post("/v1/traces", content=gzip.compress(body), headers=gz)
    assert again.status_code == 200 and again.json()["partialSuccess"]["rejectedSpans"] == "1"
    assert (await client.get("/orq/v2/sessions/json-thread")).json()["traces_count"] == 2
    empty = await client.post("/v1/traces", content=b"{}", headers=JSON)
    assert empty.status_code == 200 and empty.json() == {}


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"stringValue": "x"}
    for _ in range(depth):
        value = {"kvlistValue": {"values": [kv("k", value)]}}
    return value


BAD_JSON = [
    b"not json",
    b"[]",
    b'{"resourceSpans": {"x": 1}}',
    otlp_json(span("01", a={"intValue": "x"})),
    otlp_json(span("01", a={"intValue": 1.5})),
    otlp_json(span("01", a={"stringValue": 3})),
    otlp_json(span("01", a={"arrayValue": {"values": 3}})),
    otlp_json({**span("01"), "startTimeUnixNano": "-1"}),
    otlp_json({**span("01"), "attributes": [{"value": {}}]}),
    otlp_json(span("01", a=nested(12))),
]  # fmt: skip


@pytest.mark.anyio
@pytest.mark.parametrize("body", BAD_JSON, ids=range(len(BAD_JSON)))
async def test_bad_otlp_json_is_400(client: httpx.AsyncClient, body: bytes) -> None:
    reply = await client.post("/v1/traces", content=body, headers=JSON)
    assert reply.status_code == 400, reply.text
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["code"] == 3 and reply.json()["message"]


@pytest.mark.anyio
async def test_bad_media_and_protobuf(client: httpx.AsyncClient, app: Any) -> None:
    plain = await client.post("/v1/traces", content=b"x", headers={"Content-Type": "text/plain"})
    assert plain.status_code == 415 and "application/x-protobuf" in plain.json()["message"]
    brotli = await client.post("/v1/traces", content=b"{}",
                               headers={**JSON, "Content-Encoding": "br"})  # fmt: skip
    assert brotli.status_code == 415
    bad_gzip = await client.post("/v1/traces", content=b"{}",
                                 headers={**JSON, "Content-Encoding": "gzip"})  # fmt: skip
    assert bad_gzip.status_code == 400
    truncated = await client.post("/v1/traces", content=gzip.compress(b"{}" * 100)[:-12],
                                  headers={**JSON, "Content-Encoding": "gzip"})  # fmt: skip
    assert truncated.status_code == 400 and "truncated" in truncated.json()["message"]
    bomb = gzip.compress(b" " * (app.state.hub.settings.max_json_bytes + 10))
    too_big = await client.post("/v1/traces", content=bomb,
                                headers={**JSON, "Content-Encoding": "gzip"})  # fmt: skip
    assert too_big.status_code == 413 and too_big.json()["code"] == 8
    garbage = await client.post("/v1/traces", content=b"\xff\xff\xff", headers=PROTO)
    assert garbage.status_code == 400
    assert garbage.headers["content-type"] == "application/x-protobuf"
    assert garbage.content.startswith(b"\x08\x03\x12")  # google.rpc.Status{code: 3, message}
    empty = await client.post("/v1/traces", content=b"", headers=PROTO)
    assert empty.status_code == 200 and empty.content == b""
