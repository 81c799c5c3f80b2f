"""Trace events appended through the native API roll up into the Orq thread, also after a rewind."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.anyio


async def test_trace_events_roll_up_and_rewind(client: httpx.AsyncClient) -> None:
    zero = {"input_cost": 0, "output_cost": 0, "total_cost": 0}
    body: dict[str, Any] = {
        "external_id": "th", "duration": 100, "contact_ids": [], "billing": zero,
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "traces_count": 0, "tags": [],
    }  # fmt: skip
    sid = (await client.post("/orq/v2/sessions", json=body)).json()["_id"]
    events = []
    for i in range(2):
        trace = {
            "type": "trace", "input_tokens": 10, "output_tokens": 5, "cost": 0.5,
            "duration_ms": 40,
            "payload": {"name": f"t{i}", "start": "2030-01-01T00:00:00Z",
                        "end": f"2030-01-01T00:00:0{i + 1}Z", "input_cost": 0.2, "output_cost": 0.3},
        }  # fmt: skip
        reply = await client.post(f"/v1/sessions/{sid}/events", json=trace)
        assert reply.status_code in (200, 201), reply.text
        events.append(reply.json())
    thread = (await client.get("/orq/v2/sessions/th")).json()
    assert thread["traces_count"] == 2
    assert thread["usage"] == {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30}
    assert thread["billing"] == {"input_cost": 0.4, "output_cost": 0.6, "total_cost": 1.0}
    assert thread["duration"] == 180
    assert thread["updated_at"] == "2030-01-01T00:00:02.000Z"
    first = events[0].get("id") or events[0]["items"][0]["id"]
    rewound = await client.post(f"/v1/sessions/{sid}/rewind", json={"to_event_id": first})
    assert rewound.status_code == 200, rewound.text
    thread = (await client.get("/orq/v2/sessions/th")).json()
    assert thread["traces_count"] == 1 and thread["duration"] == 140
    assert thread["billing"] == {"input_cost": 0.2, "output_cost": 0.3, "total_cost": 0.5}
    assert thread["updated_at"] == "2030-01-01T00:00:01.000Z"
    missing = await client.get("/orq/v2/sessions/nope")
    assert missing.status_code == 404 and missing.json()["code"] == 5
