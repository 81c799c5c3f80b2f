"""Text PostgreSQL cannot store (NUL, ``\\u0000``) is refused with a 4xx on every surface
and on both databases alike, and never fails other clients' writes in the same batch."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest

pytestmark = pytest.mark.anyio
NUL = "a\u0000b"


@pytest.mark.parametrize(
    "body",
    [
        {"name": NUL}, {"title": NUL}, {"metadata": {"k": NUL}}, {"metadata": {NUL: 1}},
        {"attributes": {"deep": [{"x": NUL}]}},
    ],
)  # fmt: skip
async def test_create_refuses_nul(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    response = await client.post("/v1/sessions", json=body)
    assert response.status_code == 422, response.text
    assert "NUL" in response.json()["detail"]
    assert (await client.get("/v1/sessions")).json()["items"] == []


async def test_update_and_append_refuse_nul(client: httpx.AsyncClient) -> None:
    sid = (await client.post("/v1/sessions", json={})).json()["id"]
    assert (await client.patch(f"/v1/sessions/{sid}", json={"title": NUL})).status_code == 422
    one = await client.post(f"/v1/sessions/{sid}/events", json={"type": "m", "payload": {"t": NUL}})
    assert one.status_code == 422 and "NUL" in one.json()["detail"]
    batch = await client.post(
        f"/v1/sessions/{sid}/events/batch",
        json={"events": [{"type": "m"}, {"type": "m", "payload": {"t": NUL}}]},
    )
    assert batch.status_code == 422
    session = (await client.get(f"/v1/sessions/{sid}")).json()
    assert session["last_seq"] == 0 and session["title"] is None


async def test_a_refused_append_does_not_fail_concurrent_ones(client: httpx.AsyncClient) -> None:
    sid = (await client.post("/v1/sessions", json={})).json()["id"]
    bodies = [{"type": "m", "payload": {"t": NUL if i == 5 else "ok"}} for i in range(20)]
    answers = await asyncio.gather(
        *(client.post(f"/v1/sessions/{sid}/events", json=b) for b in bodies)
    )
    assert sorted(a.status_code for a in answers) == [201] * 19 + [422]
    assert (await client.get(f"/v1/sessions/{sid}")).json()["last_seq"] == 19


async def test_an_append_to_an_id_with_nul_does_not_fail_concurrent_ones(
    client: httpx.AsyncClient,
) -> None:
    sid = (await client.post("/v1/sessions", json={})).json()["id"]
    paths = [f"/v1/sessions/{'a%00b' if i == 5 else sid}/events" for i in range(20)]
    answers = await asyncio.gather(
        *(client.post(path, json={"type": "m", "payload": {}}) for path in paths)
    )
    assert sorted(a.status_code for a in answers) == [201] * 19 + [404]
    assert (await client.get(f"/v1/sessions/{sid}")).json()["last_seq"] == 19


async def test_import_with_nul_is_400_and_leaves_nothing(client: httpx.AsyncClient) -> None:
    sid = (await client.post("/v1/sessions", json={"title": "t"})).json()["id"]
    await client.post(f"/v1/sessions/{sid}/events", json={"type": "m", "payload": {"t": "x"}})
    doc = orjson.loads((await client.get(f"/v1/sessions/{sid}/export")).content)
    await client.delete(f"/v1/sessions/{sid}")
    doc["events"][0]["payload"]["t"] = NUL
    response = await client.post("/v1/sessions/import", content=orjson.dumps(doc))
    assert 400 <= response.status_code < 500, response.text
    assert (await client.get("/v1/sessions")).json()["items"] == []


async def test_machines_refuse_nul(client: httpx.AsyncClient) -> None:
    spec = {"name": "m", "command": f"echo {NUL} {{port}}"}
    assert (await client.post("/v1/machines", json=spec)).status_code == 422
    spec = {"name": "m", "command": "serve {port}", "env": {"A": NUL}}
    assert (await client.post("/v1/machines", json=spec)).status_code == 422


async def test_dialects_answer_nul_with_their_own_4xx(client: httpx.AsyncClient) -> None:
    mix = await client.post(
        "/mix/api/sessions", json={"title": NUL, "browserMode": "local-browser-service"}
    )
    assert mix.status_code == 400 and set(mix.json()["error"]) == {"code", "message", "type"}
    threads = await client.post("/orq/v2/sessions", json={"external_id": NUL})
    assert 400 <= threads.status_code < 500, threads.text
    assert {"message", "code"} <= set(threads.json())
    legacy = await client.post("/orq/v2/traces/sessions", json={"tags": [NUL], "project_id": NUL})
    assert 400 <= legacy.status_code < 500, legacy.text
    lease = await client.post("/comfydeploy/api/session", json={"machine_id": NUL})
    assert 400 <= lease.status_code < 500, lease.text


async def test_lookups_by_an_id_with_nul_are_4xx(client: httpx.AsyncClient) -> None:
    for path in ["/v1/sessions/a%00b", "/v1/sessions/a%00b/events", "/v1/machines/a%00b"]:
        response = await client.get(path)
        assert 400 <= response.status_code < 500, (path, response.text)
