"""comfydeploy@2.0.0-beta.69 under Node: it rejects nulls and naive datetimes the Python SDK takes."""

from __future__ import annotations

import json
import shutil

import pytest

from sessionhub.testing import sdkenv
from tests.api.dialects.comfydeploy.conftest import HERE, Comfy

NPM = {"comfydeploy": "2.0.0-beta.69", "zod": "3.25.76"}


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
def test_npm_client_create_get_list_cancel(comfy: Comfy) -> None:
    project = sdkenv.node_project("comfydeploy", NPM)
    script = project / "npm_ops.cjs"
    shutil.copy(HERE / "npm_ops.cjs", script)
    done = sdkenv.run(["node", str(script), comfy.api, comfy.token, comfy.machines["tiny"]],
                      cwd=project, timeout=90)  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    sid = out["created"]["sessionId"]
    assert out["created"]["url"].startswith("http://127.0.0.1:")
    assert out["got"]["sessionId"] == sid and out["got"]["url"] == out["created"]["url"]
    assert out["got"]["gpuEventId"]
    [event] = out["listed"]
    assert event["sessionId"] == sid and event["id"] == out["got"]["gpuEventId"]
    assert (event["gpu"], event["gpuProvider"], event["endTime"]) == ("A10G", "comfy-deploy", None)
    assert event["startTime"].endswith("Z") and event["tunnelUrl"] == out["created"]["url"]
    assert out["cancelled"] == {"success": True}
    assert out["after"] == {"status": 404, "body": {"detail": "GPUEvent not found"}}
    assert out["listedAfter"] == []
