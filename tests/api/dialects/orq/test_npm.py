"""@orq-ai/node 4.15.11 under Node: threads create/get/list/update/delete through its zod schemas.

It rejects ``null`` optional fields and naive datetimes that the Python SDKs accept, so a
thread the legacy API made with ``project_id: null`` and a naive ``started_at`` is read too.
"""

from __future__ import annotations

import json
import shutil

import httpx
import pytest

from sessionhub.testing import sdkenv
from tests.api.dialects.orq.conftest import OrqServer
from tests.api.dialects.orq.test_orq_sdk import HERE

NPM = {"@orq-ai/node": "4.15.11", "zod": "3.25.76"}


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
def test_npm_threads(orq_server: OrqServer) -> None:
    legacy = httpx.post(f"{orq_server.url}/orq/v2/traces/sessions", headers=orq_server.headers,
                        json={"external_id": "legacy-null", "duration": 1.0, "contact_ids": [],
                              "billing": {"input_cost": 0.5, "output_cost": 0.25,
                                          "total_cost": 0.75},
                              "usage": {"prompt_tokens": 1.0, "completion_tokens": 2.0,
                                        "total_tokens": 3.0},
                              "traces_count": 1.0, "tags": [], "project_id": None,
                              "started_at": "2025-01-02T03:04:05.678000"})  # fmt: skip
    assert legacy.status_code == 200, legacy.text
    project = sdkenv.node_project("orq-node", NPM, legacy_peer_deps=True)
    script = project / "npm_threads.cjs"
    shutil.copy(HERE / "npm_threads.cjs", script)
    done = sdkenv.run(["node", str(script), f"{orq_server.url}/orq", orq_server.key,
                       legacy.json()["_id"]], cwd=project, timeout=90)  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    created = out["created"]
    assert created["externalId"] == "node/thread 1" and created["duration"] == 12.5
    assert created["startedAt"] == "2025-02-03T04:05:06.000Z"
    assert (created["kind"], created["client"], created["title"]) == (
        "THREAD_KIND_CONVERSATION", "codex", "from node")  # fmt: skip
    assert created["tracesCount"] == 2 and created["contactIds"] == ["c1"]
    assert "projectId" not in created
    assert out["byExternal"] == created and out["byId"] == created
    assert out["legacy"]["externalId"] == "legacy-null" and "projectId" not in out["legacy"]
    assert out["legacy"]["startedAt"] == "2025-01-02T03:04:05.678Z"
    assert out["legacy"]["usage"] == {"promptTokens": 1, "completionTokens": 2, "totalTokens": 3}
    assert out["page1"] == {"ids": ["node-2", "node/thread 1"], "more": True, "object": "list"}
    assert out["page2"] == {"ids": ["legacy-null"], "more": False}
    updated = out["updated"]
    assert updated["tags"] == ["node", "x"] and updated["contactIds"] == []
    assert updated["tracesCount"] == 5
    assert out["count"] == {"count": 3} and out["tags"] == ["node", "x"]
    assert out["afterDelete"]["status"] == 404 and out["afterDelete"]["body"]["code"] == 5
    assert out["deleteMissing"]["status"] == 404
    assert out["unauthorized"]["status"] == 401 and out["unauthorized"]["body"]["code"] == 16
