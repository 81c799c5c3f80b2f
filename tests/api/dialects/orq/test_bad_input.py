"""Bad input to either Orq generation: a 4xx in that generation's own envelope, never a 5xx.

The SDKs validate before sending, so these go over raw HTTP (the path a hand-written
client or another SDK version takes).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.anyio

ZERO_B = {"input_cost": 0, "output_cost": 0, "total_cost": 0}
ZERO_U = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
THREAD = {"external_id": "ok", "duration": 0, "contact_ids": [], "billing": ZERO_B,
          "usage": ZERO_U, "traces_count": 0, "tags": []}  # fmt: skip
ALL = {"interval": "SESSION_INTERVAL_ALL_TIME"}

THREADS: list[tuple[str, str, Any]] = [
    ("POST", "/orq/v2/sessions", {k: v for k, v in THREAD.items() if k != "external_id"}),
    ("POST", "/orq/v2/sessions", {**THREAD, "traces_count": 1.5}),
    ("POST", "/orq/v2/sessions", {**THREAD, "duration": -1}),
    ("POST", "/orq/v2/sessions", {**THREAD, "started_at": "yesterday"}),
    ("POST", "/orq/v2/sessions", {**THREAD, "kind": "THREAD_KIND_OTHER"}),
    ("POST", "/orq/v2/sessions", {**THREAD, "usage": {"prompt_tokens": 1}}),
    ("POST", "/orq/v2/sessions", "not json"),
    ("POST", "/orq/v2/sessions/query", {}),
    ("POST", "/orq/v2/sessions/query", {"filters": {"interval": "SESSION_INTERVAL_FOREVER"}}),
    ("POST", "/orq/v2/sessions/query", {"filters": {**ALL, "start_date": "soon"}}),
    ("POST", "/orq/v2/sessions/query", {"filters": ALL, "limit": 0}),
    ("POST", "/orq/v2/sessions/query", {"filters": ALL, "limit": 101}),
    ("POST", "/orq/v2/sessions/query", {"filters": ALL, "page": 0}),
    ("POST", "/orq/v2/sessions/query", {"filters": ALL, "page": 1.5}),
    ("POST", "/orq/v2/sessions/count", {"filters": {**ALL, "end_date": "1e99"}}),
    ("PATCH", "/orq/v2/sessions/ok", {"clear_tags": True, "tags": ["a"]}),
    ("PATCH", "/orq/v2/sessions/ok", {"clear_contact_ids": True, "contact_ids": ["c"]}),
    ("PATCH", "/orq/v2/sessions/ok", {"tags": "a"}),
]
LEGACY: list[tuple[str, str, Any]] = [
    ("POST", "/orq/v2/traces/sessions", {"traces_count": "many"}),
    ("POST", "/orq/v2/traces/sessions", {"external_id": ""}),
    ("POST", "/orq/v2/traces/sessions/query", {"pagination": {"limit": 1000}}),
    ("POST", "/orq/v2/traces/sessions/query", {"pagination": {"page": -1}}),
    ("POST", "/orq/v2/traces/sessions/query", {"filters": [{"type": "regex", "value": "x"}]}),
    ("POST", "/orq/v2/traces/sessions/query",
     {"filters": [{"type": "string", "operator": "equals", "value": "x", "path": "secret"}]}),
    ("POST", "/orq/v2/traces/sessions/query",
     {"filters": [{"type": "string_array", "operator": "in", "values": [], "path": "tags"}]}),
    ("POST", "/orq/v2/traces/sessions/query", {"sortingProps": [{"key": "cost"}]}),
    ("POST", "/orq/v2/traces/sessions/query",
     {"query": {"operator": "and", "filters": [{"type": "x"}]}}),
    ("POST", "/orq/v2/traces/sessions/query",
     {"pagination": {"lastId": "ok"}, "sortingProps": [{"key": "external_id"}]}),
    ("PATCH", "/orq/v2/traces/sessions/ok", {"billing": {"input_cost": "x"}}),
]  # fmt: skip


async def _made(client: httpx.AsyncClient) -> None:
    made = await client.post("/orq/v2/sessions", json=THREAD)
    assert made.status_code == 200, made.text


async def _send(client: httpx.AsyncClient, method: str, path: str, body: Any) -> httpx.Response:
    if isinstance(body, str):
        headers = {"Content-Type": "application/json"}
        return await client.request(method, path, content=body, headers=headers)
    return await client.request(method, path, json=body)


CASES = [(*case, 3) for case in THREADS] + [(*case, "400") for case in LEGACY]


@pytest.mark.parametrize(("method", "path", "body", "code"), CASES, ids=range(len(CASES)))
async def test_bad_input_is_400_in_each_generations_envelope(
    client: httpx.AsyncClient, method: str, path: str, body: Any, code: int | str
) -> None:
    """Threads answer a gRPC code (3), the legacy API Hono's string code ("400")."""
    await _made(client)
    reply = await _send(client, method, path, body)
    assert reply.status_code == 400, reply.text
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["code"] == code and reply.json()["message"]


async def test_a_taken_external_id_is_a_conflict_in_both_envelopes(
    client: httpx.AsyncClient,
) -> None:
    await _made(client)
    again = await client.post("/orq/v2/sessions", json=THREAD)
    assert again.status_code == 409 and again.json()["code"] == 6, again.text
    legacy = await client.post("/orq/v2/traces/sessions", json={**THREAD})
    assert legacy.status_code == 409 and legacy.json()["code"] == "409", legacy.text
    other = await client.post("/orq/v2/sessions", json={**THREAD, "external_id": "other"})
    renamed = await client.patch(
        f"/orq/v2/sessions/{other.json()['_id']}", json={"external_id": "ok"}
    )
    assert renamed.status_code == 409 and renamed.json()["code"] == 6, renamed.text
