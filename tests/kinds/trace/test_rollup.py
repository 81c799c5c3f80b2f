"""Trace events appended through the native API roll up into the thread the trace rules
report, also after a rewind and in a fork."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sessionhub.core.hub import Hub
from sessionhub.kinds.trace.rules import ThreadSpec, TraceSessions

pytestmark = pytest.mark.anyio


def trace(i: int) -> dict[str, Any]:
    return {
        "type": "trace", "input_tokens": 10, "output_tokens": 5, "cost": 0.5, "duration_ms": 40,
        "payload": {"name": f"t{i}", "start": "2030-01-01T00:00:00Z",
                    "end": f"2030-01-01T00:00:0{i + 1}Z", "input_cost": 0.2, "output_cost": 0.3},
    }  # fmt: skip


async def test_trace_events_roll_up_and_rewind(client: httpx.AsyncClient, app: Any) -> None:
    hub: Hub = app.state.hub
    traces = TraceSessions(hub.service)
    ws = hub.default_workspace_id
    made = await traces.create(ws, ThreadSpec(external_id="th", numbers={"duration": 100.0}))
    sid = made.id
    ids = []
    for i in range(2):
        reply = await client.post(f"/v1/sessions/{sid}/events", json=trace(i))
        assert reply.status_code == 201, reply.text
        ids.append(reply.json()["id"])
    thread = await traces.get(ws, "th")
    n = thread.numbers
    assert n["traces_count"] == 2 and n["duration"] == 180
    assert (n["prompt_tokens"], n["completion_tokens"], n["total_tokens"]) == (20, 10, 30)
    assert (n["input_cost"], n["output_cost"], n["total_cost"]) == (0.4, 0.6, 1.0)
    assert thread.updated_at.isoformat() == "2030-01-01T00:00:02+00:00"
    fork = await client.post(f"/v1/sessions/{sid}/fork", json={"at_event_id": ids[0]})
    assert fork.status_code == 201, fork.text
    forked = await traces.get(ws, fork.json()["id"])
    assert forked.numbers["traces_count"] == 1 and forked.numbers["duration"] == 140
    rewound = await client.post(f"/v1/sessions/{sid}/rewind", json={"to_event_id": ids[0]})
    assert rewound.status_code == 200, rewound.text
    thread = await traces.get(ws, "th")
    assert thread.numbers["traces_count"] == 1 and thread.numbers["duration"] == 140
    assert (thread.numbers["input_cost"], thread.numbers["total_cost"]) == (0.2, 0.5)
    assert thread.updated_at.isoformat() == "2030-01-01T00:00:01+00:00"


async def test_a_number_the_client_sets_is_what_it_reads_back(
    client: httpx.AsyncClient, app: Any
) -> None:
    hub: Hub = app.state.hub
    traces = TraceSessions(hub.service)
    ws = hub.default_workspace_id
    made = await traces.create(ws, ThreadSpec(external_id="set", lists={"tags": ["a"]}))
    await client.post(f"/v1/sessions/{made.id}/events", json=trace(0))
    updated = await traces.update(ws, "set", ThreadSpec(numbers={"traces_count": 5.0}))
    assert updated.numbers["traces_count"] == 5 and updated.tags == ["a"]
    await client.post(f"/v1/sessions/{made.id}/events", json=trace(1))
    assert (await traces.get(ws, "set")).numbers["traces_count"] == 6  # base + one more
    stored = (await client.get(f"/v1/sessions/{made.id}")).json()["attributes"]
    assert stored["base"]["traces_count"] == 4 and stored["tags"] == ["a"]
