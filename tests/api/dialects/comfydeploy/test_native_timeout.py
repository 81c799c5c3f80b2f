"""POST /v1/sessions/{id}/timeout through the Python client: the native increase-timeout."""

from __future__ import annotations

from datetime import datetime

import pytest

from sessionhub import Client, Invalid, NotFound, Unsupported
from tests.api.dialects.comfydeploy.conftest import Comfy, wait_for


def seconds(stamp: object) -> float:
    return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()


def test_extend_timeout_through_the_client(comfy: Comfy) -> None:
    [made] = comfy.sdk(("create", {"machine_id": comfy.machines["tiny"], "wait_for_server": True}))
    sid = made["ok"]["session_id"]
    with Client(base_url=comfy.base, api_key=comfy.token) as hub:
        before = hub.get_session(sid).attributes
        after = hub.extend_timeout(sid, add_seconds=90).attributes
        assert seconds(after["timeout_end"]) - seconds(before["timeout_end"]) == 90
        assert after["timeout_seconds"] == before["timeout_seconds"] + 90
        [got] = comfy.sdk(("get", {"session_id": sid}))
        assert got["ok"]["timeout"] == 17  # 15 minutes + 90 s, rounded up
        plain = hub.create_session(title="not a machine")
        with pytest.raises(Unsupported):
            hub.extend_timeout(plain.id, add_seconds=5)
        with pytest.raises(NotFound):
            hub.extend_timeout("no-such-session", add_seconds=5)
        with pytest.raises(Invalid):
            hub.extend_timeout(sid, add_seconds=-1)
        comfy.sdk(("cancel", {"session_id": sid}))
        wait_for(lambda: hub.get_session(sid).attributes.get("end_time"))
        with pytest.raises(NotFound):  # the lease has ended
            hub.extend_timeout(sid, add_seconds=5)
