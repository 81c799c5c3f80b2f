"""Drive orq-ai-sdk 3.4.0's trace sessions against a server; print JSON results."""

import json
import sys

from orq_ai_sdk import Orq, models

url, key, other_key = sys.argv[1:4]
orq = Orq(server_url=url, api_key=key)
out = {}
bare = orq.sessions.create()
out["bare"] = {
    "id": bare.id,
    "external_id": bare.external_id,
    "workspace_id": bare.workspace_id,
    "traces_count": bare.traces_count,
    "started_at": str(bare.started_at),
}
full = orq.sessions.create(
    request={
        "external_id": "legacy/one",
        "duration": 10,
        "contact_ids": ["c1"],
        "billing": {"input_cost": 0.1, "output_cost": 0.2, "total_cost": 0.3},
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
        "traces_count": 4,
        "tags": ["alpha", "beta"],
        "project_id": "p1",
        "started_at": "2025-01-02T03:04:05",
    }
)
out["full"] = full.model_dump(mode="json", by_alias=True)
got = orq.sessions.get(session_id="legacy/one")
out["get_by_external"] = got.id == full.id
out["get_by_id"] = orq.sessions.get(session_id=full.id).external_id
upd = orq.sessions.update(session_id=full.id, traces_count=7, tags=["gamma"], project_id=None)
out["updated"] = {
    "traces_count": upd.traces_count,
    "tags": upd.tags,
    "project_id": upd.project_id,
    "duration": upd.duration,
}
blank = {
    "duration": 0,
    "contact_ids": [],
    "traces_count": 0,
    "billing": {"input_cost": 0, "output_cost": 0, "total_cost": 0},
    "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    "tags": [],
}
for i in range(5):
    orq.sessions.create(
        request={**blank, "external_id": f"page-{i}", "tags": ["paged"] if i % 2 == 0 else []}
    )
everything = orq.sessions.list()
out["list_all"] = {
    "object": everything.object,
    "n": len(everything.data),
    "more": everything.has_more,
}
p1 = orq.sessions.list(request={"filters": [], "pagination": {"page": 1, "limit": 3}})
p2 = orq.sessions.list(request={"filters": [], "pagination": {"page": 2, "limit": 3}})
p3 = orq.sessions.list(request={"filters": [], "pagination": {"page": 3, "limit": 3}})
out["pages"] = [[s.external_id for s in p.data] for p in (p1, p2, p3)]
out["pages_more"] = [p.has_more for p in (p1, p2, p3)]
after = orq.sessions.list(
    request={"filters": [], "pagination": {"limit": 3, "lastId": p1.data[-1].id}}
)
out["last_id"] = [s.external_id for s in after.data]
before = orq.sessions.list(
    request={"filters": [], "pagination": {"limit": 3, "firstId": p2.data[0].id}}
)
out["first_id"] = [s.external_id for s in before.data]


def ids(flt=None, **kw):
    res = orq.sessions.list(request={"filters": flt or [], **kw})
    return sorted(s.external_id for s in res.data)


out["f_id"] = ids([{"type": "id", "id": "page-3", "path": "_id"}])
out["f_search"] = ids([{"type": "search", "value": "PAGE-", "searchPaths": ["external_id"]}])
out["f_contains"] = ids(
    [{"type": "string", "operator": "contains", "value": "legacy", "path": "external_id"}]
)
out["f_equals"] = ids(
    [{"type": "string", "operator": "equals", "value": "page-1", "path": "external_id"}]
)
out["f_in"] = ids(
    [{"type": "string_array", "operator": "in", "values": ["paged", "gamma"], "path": "tags"}]
)
out["q_search"] = ids(query={"operator": "and", "search": "page-4"})
asc = orq.sessions.list(
    request={
        "filters": [],
        "sortingProps": [{"key": "external_id", "direction": "asc"}],
        "pagination": {"limit": 2},
    }
)
out["sorted"] = [s.external_id for s in asc.data]
out["sorted_expected"] = sorted(s.external_id for s in everything.data)[:2]
orq.sessions.delete(session_id="legacy/one")
try:
    orq.sessions.get(session_id="legacy/one")
    out["after_delete"] = "found"
except models.HonoAPIError as exc:
    out["after_delete"] = {
        "class": "HonoAPIError",
        "message": exc.data.message,
        "code": exc.data.code,
    }
try:
    orq.sessions.delete(session_id="nope")
except models.HonoAPIError as exc:
    out["delete_missing"] = exc.data.code
try:
    orq.sessions.list(request={"filters": [], "pagination": {"limit": 1000}})
except models.APIError as exc:
    out["bad_limit"] = exc.status_code
for label, secret in (("wrong_key", "shk_wrong"), ("no_key", None)):
    caller = Orq(server_url=url, api_key=secret)  # held: the SDK closes its client on GC
    try:
        caller.sessions.get(session_id="page-1")
        out[label] = "allowed"
    except models.APIError as exc:
        out[label] = {"status": exc.status_code, "body": json.loads(exc.body)}
stranger = Orq(server_url=url, api_key=other_key)
try:
    stranger.sessions.get(session_id="page-1")
    out["other_workspace"] = "allowed"
except models.HonoAPIError as exc:
    out["other_workspace"] = {"code": exc.data.code}
# the default page is 50: 6 sessions are left, 45 more make 51
for i in range(45):
    orq.sessions.create(request={**blank, "external_id": f"bulk-{i:02d}"})
default = orq.sessions.list()
empty_pagination = orq.sessions.list(request={"filters": [], "pagination": {}})
second = orq.sessions.list(request={"filters": [], "pagination": {"page": 2}})
out["default_page"] = [[len(p.data), p.has_more] for p in (default, empty_pagination, second)]
print(json.dumps(out, default=lambda o: None))
