"""Events over HTTP: append one or a batch, expected_seq, page, tail, get one."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.anyio


async def new_session(client: httpx.AsyncClient) -> str:
    return (await client.post("/v1/sessions", json={})).json()["id"]  # type: ignore[no-any-return]


async def test_append_one_and_totals(client: httpx.AsyncClient) -> None:
    sid = await new_session(client)
    body = {"type": "message", "role": "assistant", "payload": {"text": "hi"},
            "input_tokens": 5, "output_tokens": 7, "cost": 0.25}  # fmt: skip
    response = await client.post(f"/v1/sessions/{sid}/events", json=body)
    assert response.status_code == 201
    event = response.json()
    assert event["seq"] == 1 and event["payload"] == {"text": "hi"} and event["role"] == "assistant"
    totals = (await client.get(f"/v1/sessions/{sid}")).json()["totals"]
    assert totals["messages"] == 1 and totals["output_tokens"] == 7 and totals["cost"] == 0.25
    one = await client.get(f"/v1/sessions/{sid}/events/{event['id']}")
    assert one.json() == event


async def test_expected_seq_conflict_carries_current(client: httpx.AsyncClient) -> None:
    sid = await new_session(client)
    await client.post(f"/v1/sessions/{sid}/events", json={"type": "note", "expected_seq": 0})
    response = await client.post(
        f"/v1/sessions/{sid}/events", json={"type": "note", "expected_seq": 0}
    )
    assert response.status_code == 409
    assert response.json()["current_seq"] == 1
    batch = {"events": [{"type": "note"}], "expected_seq": 5}
    assert (await client.post(f"/v1/sessions/{sid}/events/batch", json=batch)).status_code == 409


async def test_page_and_tail(client: httpx.AsyncClient) -> None:
    sid = await new_session(client)
    batch = {"events": [{"type": "note", "payload": {"i": i}} for i in range(30)]}
    created = await client.post(f"/v1/sessions/{sid}/events/batch", json=batch)
    assert [e["seq"] for e in created.json()["items"]] == list(range(1, 31))
    page = (await client.get(f"/v1/sessions/{sid}/events", params={"after": 5, "limit": 10})).json()
    assert [e["seq"] for e in page["items"]] == list(range(6, 16)) and page["next_cursor"] == "15"
    tail = (await client.get(f"/v1/sessions/{sid}/events/tail", params={"limit": 3})).json()
    assert [e["seq"] for e in tail["items"]] == [28, 29, 30]


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"type": 5}', b'{"type": "BadType"}', b'{"type": "m", "role": "robot"}',
     b'{"type": "m", "cost": -1}', b'{"type": "m", "unknown": 1}', b"[]", b"null", b"",
     b'{"type": "m", "payload": {"x": 99999999999999999999999}}',
     b'{"type": "m", "payload": {"x": NaN}}'],
)  # fmt: skip
async def test_bad_event_bodies_are_422(client: httpx.AsyncClient, body: bytes) -> None:
    sid = await new_session(client)
    response = await client.post(
        f"/v1/sessions/{sid}/events", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get(f"/v1/sessions/{sid}")).json()["last_seq"] == 0


async def test_empty_and_oversized_batches_are_refused(client: httpx.AsyncClient) -> None:
    sid = await new_session(client)
    empty = await client.post(f"/v1/sessions/{sid}/events/batch", json={"events": []})
    assert empty.status_code == 422
    huge = {"events": [{"type": "n"}] * 1001}
    assert (await client.post(f"/v1/sessions/{sid}/events/batch", json=huge)).status_code == 422


async def test_body_over_limit_is_413(client: httpx.AsyncClient) -> None:
    sid = await new_session(client)
    blob = {"type": "note", "payload": {"x": "a" * (11 * 1024 * 1024)}}
    response = await client.post(f"/v1/sessions/{sid}/events", json=blob)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


async def test_unknown_session_and_event_are_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/sessions/nope/events", json={"type": "note"})
    assert response.status_code == 404
    sid = await new_session(client)
    assert (await client.get(f"/v1/sessions/{sid}/events/nope")).status_code == 404
