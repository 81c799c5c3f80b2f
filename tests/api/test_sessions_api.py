"""Sessions over HTTP: create, read, list, update, delete, fork, rewind."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.anyio


async def create(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/v1/sessions", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_create_returns_201_with_location(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/sessions", json={"title": "hello", "metadata": {"a": "b"}})
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/v1/sessions/{body['id']}"
    assert body["kind"] == "generic" and body["title"] == "hello" and body["status"] == "idle"


async def test_idempotency_key_header(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "abc"}
    first = await client.post("/v1/sessions", json={"title": "x"}, headers=headers)
    second = await client.post("/v1/sessions", json={"title": "x"}, headers=headers)
    assert first.json()["id"] == second.json()["id"]
    assert second.headers["idempotent-replayed"] == "true"
    clash = await client.post("/v1/sessions", json={"title": "y"}, headers=headers)
    assert clash.status_code == 409
    listed = await client.get("/v1/sessions")
    assert len(listed.json()["items"]) == 1


async def test_duplicate_name_is_409_problem(client: httpx.AsyncClient) -> None:
    await create(client, name="dup")
    response = await client.post("/v1/sessions", json={"name": "dup"})
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Already Exists"


async def test_unknown_kind_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/sessions", json={"kind": "nope"})
    assert response.status_code == 400
    assert "unknown session kind" in response.json()["detail"]


async def test_get_sets_etag_and_patch_honours_if_match(client: httpx.AsyncClient) -> None:
    session = await create(client, title="a")
    got = await client.get(f"/v1/sessions/{session['id']}")
    assert got.headers["etag"] == '"1"'
    ok = await client.patch(
        f"/v1/sessions/{session['id']}", json={"title": "b"}, headers={"If-Match": '"1"'}
    )
    assert ok.status_code == 200 and ok.json()["title"] == "b" and ok.json()["version"] == 2
    stale = await client.patch(
        f"/v1/sessions/{session['id']}", json={"title": "c"}, headers={"If-Match": "1"}
    )
    assert stale.status_code == 412 and stale.json()["current_version"] == 2
    cleared = await client.patch(f"/v1/sessions/{session['id']}", json={"title": None})
    assert cleared.json()["title"] is None


async def test_list_filters_and_pages(client: httpx.AsyncClient) -> None:
    parent = await create(client, metadata={"team": "red"})
    await create(client, parent_id=parent["id"])
    await create(client, kind="test-wait", metadata={"team": "blue"})
    top = (await client.get("/v1/sessions")).json()["items"]
    assert len(top) == 2
    everything = (await client.get("/v1/sessions", params={"include_children": "true"})).json()
    assert len(everything["items"]) == 3
    red = (await client.get("/v1/sessions", params={"metadata": "team:red"})).json()["items"]
    assert [s["id"] for s in red] == [parent["id"]]
    kids = (await client.get("/v1/sessions", params={"parent_id": parent["id"]})).json()["items"]
    assert len(kids) == 1
    page = (await client.get("/v1/sessions", params={"limit": 1})).json()
    nxt = await client.get("/v1/sessions", params={"limit": 1, "cursor": page["next_cursor"]})
    assert nxt.json()["items"][0]["id"] != page["items"][0]["id"]
    assert nxt.json()["next_cursor"] is None


async def test_list_finds_the_forks_of_a_session(client: httpx.AsyncClient) -> None:
    sid = (await client.post("/v1/sessions", json={"title": "source"})).json()["id"]
    other = (await client.post("/v1/sessions", json={"title": "other"})).json()["id"]
    forks = [(await client.post(f"/v1/sessions/{sid}/fork", json={})).json()["id"] for _ in "ab"]
    await client.post(f"/v1/sessions/{other}/fork", json={})
    listed = await client.get("/v1/sessions", params={"forked_from": sid})
    assert listed.status_code == 200
    assert sorted(s["id"] for s in listed.json()["items"]) == sorted(forks)


@pytest.mark.parametrize(
    "params",
    [{"cursor": "not-a-cursor"}, {"limit": 0}, {"limit": 5000}, {"status": "weird"},
     {"metadata": "novalue"}, {"created_after": "yesterday"}],
)  # fmt: skip
async def test_list_bad_query_is_4xx(client: httpx.AsyncClient, params: dict[str, Any]) -> None:
    response = await client.get("/v1/sessions", params=params)
    assert response.status_code in (400, 422)
    assert response.headers["content-type"] == "application/problem+json"


async def test_delete_cascades_and_foreign_ids_are_404(client: httpx.AsyncClient) -> None:
    parent = await create(client)
    child = await create(client, parent_id=parent["id"])
    assert (await client.delete(f"/v1/sessions/{parent['id']}")).status_code == 204
    assert (await client.get(f"/v1/sessions/{child['id']}")).status_code == 404
    assert (await client.delete(f"/v1/sessions/{parent['id']}")).status_code == 404


async def test_fork_and_rewind(client: httpx.AsyncClient) -> None:
    session = await create(client, title="src")
    sid = session["id"]
    batch = {"events": [{"type": "message", "role": "user", "payload": {"i": i}} for i in range(4)]}
    events = (await client.post(f"/v1/sessions/{sid}/events/batch", json=batch)).json()["items"]
    fork = await client.post(f"/v1/sessions/{sid}/fork", json={"at_event_id": events[1]["id"]})
    assert fork.status_code == 201
    forked = fork.json()
    assert forked["forked_from"] == sid and forked["title"] == "src"
    copied = (await client.get(f"/v1/sessions/{forked['id']}/events")).json()["items"]
    assert [e["payload"]["i"] for e in copied] == [0, 1]
    rewind = await client.post(f"/v1/sessions/{sid}/rewind", json={"to_event_id": events[0]["id"]})
    assert rewind.status_code == 200
    assert rewind.json()["deleted_events"] == 3
    assert rewind.json()["session"]["totals"]["events"] == 1
    missing = await client.post(f"/v1/sessions/{sid}/rewind", json={"to_event_id": "nope"})
    assert missing.status_code == 404


async def test_ttl_reaper_deletes_expired_session(client: httpx.AsyncClient) -> None:
    import anyio

    session = await create(client, ttl_seconds=1)
    with anyio.fail_after(10):
        while (await client.get(f"/v1/sessions/{session['id']}")).status_code != 404:
            await anyio.sleep(0.2)
