"""Drive orq-ai-sdk 4.17.13's threads against a server; print JSON results."""

import json
import sys
import time
from datetime import datetime

from orq_ai_sdk import Orq, models

url, key, other_key = sys.argv[1:4]
orq = Orq(server_url=url, api_key=key)
out = {}
zero_b = {"input_cost": 0, "output_cost": 0, "total_cost": 0}
zero_u = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
t = orq.sessions.create(
    external_id="thread/ 1",
    duration=1240.0,
    contact_ids=["c1"],
    billing={"input_cost": 0.1, "output_cost": 0.2, "total_cost": 0.3},
    usage={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
    traces_count=1,
    tags=["support"],
    project_id="p1",
    title="T",
    client="cursor",
    kind="THREAD_KIND_CODING_AGENT",
    started_at=datetime(2025, 1, 2, 3, 4, 5, 678000),
)
out["created"] = t.model_dump(mode="json", by_alias=True)
out["get_external"] = orq.sessions.get(session_id="thread/ 1").id == t.id
out["get_id"] = orq.sessions.get(session_id=t.id).external_id
u = orq.sessions.update(session_id="thread/ 1", traces_count=3, clear_contact_ids=True, tags=["a"])
out["updated"] = {"traces_count": u.traces_count, "contact_ids": u.contact_ids, "tags": u.tags}
u2 = orq.sessions.update(session_id=t.id, clear_tags=True)
out["cleared_tags"] = u2.tags
for i in range(4):
    orq.sessions.create(
        external_id=f"t{i}",
        duration=0,
        contact_ids=[],
        billing=zero_b,
        usage=zero_u,
        traces_count=0,
        tags=["x"] if i % 2 else ["y"],
        repo="r",
    )
all_ = {"interval": "SESSION_INTERVAL_ALL_TIME"}
p1 = orq.sessions.list(filters=all_, limit=2, page=1)
p3 = orq.sessions.list(filters=all_, limit=2, page=3)
out["pages"] = [
    [s.external_id for s in p1.data],
    p1.has_more,
    [s.external_id for s in p3.data],
    p3.has_more,
]
out["by_tag"] = sorted(
    s.external_id for s in orq.sessions.list(filters={**all_, "tags": ["x"]}).data
)
out["last_hour"] = len(orq.sessions.list(filters={"interval": "SESSION_INTERVAL_LAST_1_HOUR"}).data)
out["by_kind"] = [
    s.external_id
    for s in orq.sessions.list(filters={**all_, "kind": "THREAD_KIND_CODING_AGENT"}).data
]
out["count"] = orq.sessions.get_count(filters={**all_, "repo": "r"}).count
for key, value in (("project_id", "p1"), ("client", "cursor"), ("repo", "r")):
    found = orq.sessions.list(filters={**all_, key: value}).data
    out[f"by_{key}"] = sorted(s.external_id for s in found)
now_ms, hour_ms = int(time.time() * 1000), 3_600_000
windows = {
    "around_now": {"start_date": str(now_ms - hour_ms), "end_date": str(now_ms + hour_ms)},
    "future": {"start_date": str(now_ms + hour_ms)},
    "past": {"end_date": str(now_ms - hour_ms)},
}
out["windows"] = {
    name: orq.sessions.get_count(filters={**all_, **window}).count
    for name, window in windows.items()
}
out["tags"] = orq.sessions.list_tags()
orq.sessions.delete(session_id="thread/ 1")
try:
    orq.sessions.get(session_id="thread/ 1")
except models.ErrorResponse as exc:
    out["gone"] = {"message": exc.data.message, "code": exc.data.code}
try:
    orq.sessions.update(session_id="t0", clear_tags=True, tags=["z"])
except models.APIDefaultError as exc:
    out["exclusive"] = exc.status_code if hasattr(exc, "status_code") else str(exc)
callers = {
    "wrong_key": Orq(server_url=url, api_key="shk_wrong"),
    "no_key": Orq(server_url=url),
    "other_workspace": Orq(server_url=url, api_key=other_key),
}
for label, caller in callers.items():
    try:
        caller.sessions.get(session_id="t0")
        out[label] = "allowed"
    except models.ErrorResponse as exc:
        out[label] = {"status": exc.raw_response.status_code, "code": exc.data.code}
print(json.dumps(out, default=lambda o: None))
