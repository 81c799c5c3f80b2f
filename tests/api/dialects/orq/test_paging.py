"""Page edges of both Orq list operations: ``has_more`` is false on a full last page."""

from __future__ import annotations

import httpx
import pytest

from tests.api.dialects.orq.test_bad_input import THREAD

pytestmark = pytest.mark.anyio
ALL = {"interval": "SESSION_INTERVAL_ALL_TIME"}


async def test_has_more_at_the_exact_end(client: httpx.AsyncClient) -> None:
    for i in range(4):
        made = await client.post("/orq/v2/sessions", json={**THREAD, "external_id": f"e{i}"})
        assert made.status_code == 200, made.text
    pages = []
    for page in (1, 2, 3):
        body = {"filters": ALL, "limit": 2, "page": page}
        reply = (await client.post("/orq/v2/sessions/query", json=body)).json()
        pages.append(([t["external_id"] for t in reply["data"]], reply["has_more"]))
    assert pages == [(["e3", "e2"], True), (["e1", "e0"], False), ([], False)]
    legacy = []
    for page in (1, 2):
        body = {"filters": [], "pagination": {"page": page, "limit": 2}}
        reply = (await client.post("/orq/v2/traces/sessions/query", json=body)).json()
        legacy.append(([t["external_id"] for t in reply["data"]], reply["has_more"]))
    assert legacy == [(["e3", "e2"], True), (["e1", "e0"], False)]
    body = {"filters": [], "pagination": {"limit": 2, "lastId": "e2"}}
    reply = (await client.post("/orq/v2/traces/sessions/query", json=body)).json()
    assert ([t["external_id"] for t in reply["data"]], reply["has_more"]) == (["e1", "e0"], False)
    body = {"filters": [], "pagination": {"limit": 2, "firstId": "e1"}}
    reply = (await client.post("/orq/v2/traces/sessions/query", json=body)).json()
    assert ([t["external_id"] for t in reply["data"]], reply["has_more"]) == (["e3", "e2"], False)
