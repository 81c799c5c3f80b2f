"""The real Orq SDKs (two generations, two environments) against a live sessionhub.

Each runs on SQLite and on PostgreSQL (``database_url``), with a real API key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from sessionhub.testing import sdkenv
from tests.api.dialects.orq.conftest import OrqServer

HERE = Path(__file__).parent
LEGACY = ["orq-ai-sdk==3.4.0", "httpx==0.28.1", "python-dateutil<3"]
CURRENT = ["orq-ai-sdk==4.17.13"]


def drive(python: Path, script: str, server: OrqServer) -> dict[str, Any]:
    args = [str(python), str(HERE / script), f"{server.url}/orq", server.key, server.other_key]
    done = sdkenv.run(args,
                      timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_legacy_trace_sessions(orq_server: OrqServer) -> None:
    out = drive(sdkenv.python_env("orq-3.4.0", LEGACY), "legacy_client.py", orq_server)
    assert out["bare"]["external_id"] == out["bare"]["id"]
    assert out["bare"]["traces_count"] == 0
    full = out["full"]
    assert full["external_id"] == "legacy/one"
    assert full["billing"] == {"input_cost": 0.1, "output_cost": 0.2, "total_cost": 0.3}
    assert full["usage"] == {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    assert full["traces_count"] == 4 and full["tags"] == ["alpha", "beta"]
    assert full["project_id"] == "p1" and full["workspace_id"] == out["bare"]["workspace_id"]
    assert out["bare"]["workspace_id"] == orq_server.workspace_id  # the caller's workspace
    assert full["started_at"].startswith("2025-01-02T03:04:05")
    assert out["get_by_external"] is True and out["get_by_id"] == "legacy/one"
    assert out["updated"] == {
        "traces_count": 7,
        "tags": ["gamma"],
        "project_id": None,
        "duration": 10,
    }
    assert out["list_all"] == {"object": "list", "n": 7, "more": False}
    assert out["pages"] == [["page-4", "page-3", "page-2"], ["page-1", "page-0", "legacy/one"],
                            [out["bare"]["external_id"]]]  # fmt: skip
    assert out["pages_more"] == [True, True, False]
    assert out["last_id"] == out["pages"][1]
    assert out["first_id"] == out["pages"][0]
    assert out["f_id"] == ["page-3"]
    assert out["f_search"] == ["page-0", "page-1", "page-2", "page-3", "page-4"]
    assert out["f_contains"] == ["legacy/one"]
    assert out["f_equals"] == ["page-1"]
    assert out["f_in"] == ["legacy/one", "page-0", "page-2", "page-4"]
    assert out["q_search"] == ["page-4"]
    assert out["sorted"] == out["sorted_expected"]
    assert out["after_delete"]["class"] == "HonoAPIError"
    assert out["after_delete"]["code"] == "404"
    assert out["delete_missing"] == "404"
    assert out["bad_limit"] == 400
    missing = "send an API key as 'Authorization: Bearer <key>'"
    assert out["no_key"] == {"status": 401, "body": {"message": missing, "code": "401"}}
    assert out["wrong_key"]["status"] == 401 and out["wrong_key"]["body"]["code"] == "401"
    assert out["other_workspace"] == {"code": "404"}
    assert out["default_page"] == [[50, True], [50, True], [1, False]]


def test_threads(orq_server: OrqServer) -> None:
    out = drive(sdkenv.python_env("orq-4.17.13", CURRENT), "threads_client.py", orq_server)
    created = out["created"]
    assert created["external_id"] == "thread/ 1" and created["kind"] == "THREAD_KIND_CODING_AGENT"
    assert created["usage"] == {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    assert created["duration"] == 1240.0 and created["client"] == "cursor"
    assert created["started_at"].startswith("2025-01-02T03:04:05.678")
    assert out["get_external"] is True and out["get_id"] == "thread/ 1"
    assert out["updated"] == {"traces_count": 3, "contact_ids": [], "tags": ["a"]}
    assert out["cleared_tags"] == []
    assert out["pages"] == [["t3", "t2"], True, ["thread/ 1"], False]
    assert out["by_tag"] == ["t1", "t3"]
    assert out["last_hour"] == 5
    assert out["by_kind"] == ["thread/ 1"]
    assert out["count"] == 4
    assert out["by_project_id"] == out["by_client"] == ["thread/ 1"]
    assert out["by_repo"] == ["t0", "t1", "t2", "t3"]
    assert out["windows"] == {"around_now": 5, "future": 0, "past": 0}
    assert out["tags"] == ["x", "y"]
    assert out["gone"]["code"] == 5
    assert out["exclusive"] == 400
    assert out["no_key"] == out["wrong_key"] == {"status": 401, "code": 16}
    assert out["other_workspace"] == {"status": 404, "code": 5}
    # one trace session, whichever generation reads it, and a sessionhub session of kind trace
    with httpx.Client(base_url=orq_server.url, headers=orq_server.headers) as http:
        thread = http.get("/orq/v2/sessions/t0").json()
        legacy = http.get("/orq/v2/traces/sessions/t0").json()
        assert legacy["_id"] == thread["_id"] and legacy["tags"] == thread["tags"] == ["y"]
        assert legacy["workspace_id"] == orq_server.workspace_id
        native = http.get(f"/v1/sessions/{thread['_id']}").json()
        assert (native["kind"], native["name"]) == ("trace", "t0")
        listed = http.get("/v1/sessions", params={"kind": "trace", "limit": 100}).json()
        assert sorted(s["name"] for s in listed["items"]) == ["t0", "t1", "t2", "t3"]
