"""/v1/machines: compute profiles of the caller's workspace."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.anyio

SPEC = {"name": "tiny", "command": "python -m http.server {port}", "gpu": "A10G",
        "price_per_hour": 2.5, "max_sessions": 2, "probe": "http:/health",
        "env": {"MODE": "x"}}  # fmt: skip


async def test_machines_crud(client: httpx.AsyncClient) -> None:
    made = await client.post("/v1/machines", json=SPEC)
    assert made.status_code == 201, made.text
    body = made.json()
    assert {k: body[k] for k in SPEC} == SPEC and body["startup_timeout"] == 60
    assert (await client.get(f"/v1/machines/{body['id']}")).json() == body
    assert (await client.get("/v1/machines/tiny")).json() == body
    assert (await client.get("/v1/machines")).json() == {"items": [body]}
    dup = await client.post("/v1/machines", json=SPEC)
    assert dup.status_code == 409
    assert (await client.delete("/v1/machines/tiny")).status_code == 204
    assert (await client.get("/v1/machines/tiny")).status_code == 404


@pytest.mark.parametrize(
    "change",
    [{"command": "run {nope}"}, {"command": "  "}, {"probe": "udp"}, {"max_sessions": 0},
     {"price_per_hour": -1}, {"env": {"1BAD": "x"}}],
)  # fmt: skip
async def test_bad_machines_are_422(client: httpx.AsyncClient, change: dict[str, object]) -> None:
    response = await client.post("/v1/machines", json={**SPEC, **change})
    assert response.status_code == 422, response.text


async def test_machine_session_needs_a_known_machine(client: httpx.AsyncClient) -> None:
    missing = await client.post("/v1/sessions", json={"kind": "machine"})
    assert missing.status_code == 400 and "machine_id" in missing.json()["detail"]
    unknown = {"kind": "machine", "attributes": {"machine_id": "nope"}}
    assert (await client.post("/v1/sessions", json=unknown)).status_code == 404
