"""The agent rules through the native API: fork and rewind by message index, run input.

Runs on SQLite and PostgreSQL (the ``client`` fixture's app is parametrized).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.kinds.agent.conftest import TRANSCRIPT

pytestmark = pytest.mark.anyio


async def agent_session(client: httpx.AsyncClient, **attributes: Any) -> tuple[str, list[str]]:
    """An agent session holding ``TRANSCRIPT``; its id and its event ids."""
    made = await client.post("/v1/sessions", json={"kind": "agent", "attributes": attributes})
    sid = made.json()["id"]
    appended = await client.post(f"/v1/sessions/{sid}/events/batch", json={"events": TRANSCRIPT})
    assert appended.status_code == 201, appended.text
    return sid, [e["id"] for e in appended.json()["items"]]


async def contents(client: httpx.AsyncClient, sid: str) -> list[str]:
    events = (await client.get(f"/v1/sessions/{sid}/events")).json()["items"]
    return [e["payload"].get("content", e["type"]) for e in events]


async def test_fork_after_a_message_keeps_its_tool_calls_and_results(
    client: httpx.AsyncClient,
) -> None:
    sid, ids = await agent_session(client, promptMode="append", customSystemPrompt="x")
    forked = await client.post(f"/v1/sessions/{sid}/fork", json={"message_index": 1})
    assert forked.status_code == 201, forked.text
    fork = forked.json()
    assert fork["forked_from"] == sid and fork["forked_at_event"] == ids[3]
    assert await contents(client, fork["id"]) == ["one", "", "tool_call", "tool_result"]
    assert fork["attributes"]["promptMode"] == "append"  # a native fork copies attributes
    last = await client.post(f"/v1/sessions/{sid}/fork", json={"message_index": 4})
    assert last.json()["totals"]["events"] == len(TRANSCRIPT)


async def test_a_forks_messages_get_new_ids(client: httpx.AsyncClient) -> None:
    sid, _ = await agent_session(client)
    fork = (await client.post(f"/v1/sessions/{sid}/fork", json={})).json()
    source = (await client.get(f"/v1/sessions/{sid}/events")).json()["items"]
    copied = (await client.get(f"/v1/sessions/{fork['id']}/events")).json()["items"]
    assert [e["payload"].get("content") for e in copied] == [
        e["payload"].get("content") for e in source
    ]
    ids = [e["payload"]["id"] for e in copied if e["type"] == "message"]
    assert len(set(ids)) == 5 and not set(ids) & {"u1", "a1", "a2", "u2", "a3"}
    call, result = copied[2]["payload"], copied[3]["payload"]
    assert call["messageId"] == result["messageId"] == ids[1]  # still the reply's
    assert call["id"] == result["toolCallId"] == "c1"
    again = (await client.get(f"/v1/sessions/{sid}/events")).json()["items"]
    assert again == source  # the source keeps its ids


async def test_message_zero_of_an_empty_agent_session(client: httpx.AsyncClient) -> None:
    sid = (await client.post("/v1/sessions", json={"kind": "agent"})).json()["id"]
    forked = await client.post(f"/v1/sessions/{sid}/fork", json={"message_index": 0})
    assert forked.status_code == 201, forked.text
    assert forked.json()["totals"]["events"] == 0 and forked.json()["forked_from"] == sid
    rewound = await client.post(f"/v1/sessions/{sid}/rewind", json={"message_index": 0})
    assert rewound.status_code == 200, rewound.text
    assert rewound.json()["deleted_events"] == 0


async def test_rewind_to_a_message(client: httpx.AsyncClient) -> None:
    sid, ids = await agent_session(client)
    rewound = await client.post(f"/v1/sessions/{sid}/rewind", json={"message_index": 2})
    assert rewound.status_code == 200, rewound.text
    assert rewound.json()["deleted_events"] == 2
    assert await contents(client, sid) == ["one", "", "tool_call", "tool_result", "done"]
    by_id = await client.post(f"/v1/sessions/{sid}/rewind", json={"to_event_id": ids[0]})
    assert by_id.json()["deleted_events"] == 4  # addressing by event id works as before
    assert await contents(client, sid) == ["one"]


@pytest.mark.parametrize(
    ("path", "body", "status", "says"),
    [
        ("fork", {"message_index": 9}, 400, "message_index: out of range: the session has 5"),
        ("rewind", {"message_index": 5}, 400, "out of range"),
        ("fork", {"message_index": 0, "at_event_id": "x"}, 400, "not both"),
        ("rewind", {"message_index": 0, "to_event_id": "x"}, 400, "not both"),
        ("rewind", {}, 400, "give to_event_id or message_index"),
        ("fork", {"message_index": -1}, 422, "greater than or equal to 0"),
    ],
)  # fmt: skip
async def test_bad_message_addressing_is_a_client_error(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], status: int, says: str
) -> None:
    sid, _ = await agent_session(client)
    answer = await client.post(f"/v1/sessions/{sid}/{path}", json=body)
    assert answer.status_code == status, answer.text
    assert says in answer.json()["detail"]
    assert len(await contents(client, sid)) == len(TRANSCRIPT)  # nothing rewound
    listed = (await client.get("/v1/sessions")).json()["items"]
    assert [s["id"] for s in listed] == [sid]  # nothing forked


async def test_a_kind_without_messages_refuses_a_message_index(client: httpx.AsyncClient) -> None:
    sid = (await client.post("/v1/sessions", json={"kind": "generic"})).json()["id"]
    await client.post(f"/v1/sessions/{sid}/events", json={"type": "note", "payload": {}})
    for path in ("fork", "rewind"):
        answer = await client.post(f"/v1/sessions/{sid}/{path}", json={"message_index": 0})
        assert answer.status_code == 409, answer.text
        assert answer.json()["title"] == "Unsupported"
        assert "cannot be addressed by message index" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("run_input", "says"),
    [
        ({}, "text: message content is required"),
        ({"text": "hi", "max_steps": 0}, "max_steps: must be an integer of at least 1"),
        ({"text": "hi", "thinking_level": "lots"}, "thinking_level: must be one of"),
        ({"text": "hi", "plan_mode": "on"}, "plan_mode: must be a boolean"),
    ],
)
async def test_bad_run_input_is_a_400_and_no_run(
    client: httpx.AsyncClient, run_input: dict[str, Any], says: str
) -> None:
    sid = (await client.post("/v1/sessions", json={"kind": "agent"})).json()["id"]
    before = (await client.get(f"/v1/sessions/{sid}")).json()
    answer = await client.post(f"/v1/sessions/{sid}/runs", json={"input": run_input})
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"].startswith(says)
    after = (await client.get(f"/v1/sessions/{sid}")).json()
    assert (after["status"], after["version"]) == ("idle", before["version"])
    assert (await client.get(f"/v1/sessions/{sid}/events")).json()["items"] == []
    cancel = await client.post(f"/v1/sessions/{sid}/cancel")
    assert cancel.json() == {"cancelled": False, "run_id": None}  # no run was recorded
