"""Two server processes on one PostgreSQL: one concurrency limit, one lease deadline."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from sessionhub.config import Settings
from sessionhub.testing.fixtures import free_port
from tests.api.dialects.comfydeploy.conftest import Comfy, seed
from tests.api.dialects.comfydeploy.test_crash import server
from tests.kinds.machine.support import gone, wait_for

pytestmark = pytest.mark.postgres


def settings_for(root: Path, url: str) -> Settings:
    root.mkdir(parents=True, exist_ok=True)
    return Settings(data_dir=root, database_url=url, no_auth=False, log_format="text",
                    reaper_interval=0.5)  # fmt: skip


def seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_limit_and_timeout_hold_across_two_servers(
    tmp_path: Path, postgres_url: str, sdk_python: Path
) -> None:
    first, second = (
        settings_for(tmp_path / "a", postgres_url),
        settings_for(tmp_path / "b", postgres_url),
    )
    token, machines = seed(first)
    ports = free_port(), free_port()
    with server(first, ports[0]), server(second, ports[1]):
        a, b = (Comfy(f"http://127.0.0.1:{p}", token, machines, sdk_python) for p in ports)
        tiny = machines["tiny"]  # max_sessions=3

        # 1. twelve creates at once, alternating servers: exactly three get a slot
        def create(env: Comfy) -> httpx.Response:
            return httpx.post(f"{env.api}/session", json={"machine_id": tiny, "wait_for_server": False},
                              headers={"Authorization": f"Bearer {token}"}, timeout=60)  # fmt: skip

        with ThreadPoolExecutor(12) as pool:
            replies = list(pool.map(create, [a, b] * 6))
        statuses = sorted(r.status_code for r in replies)
        assert statuses == [200] * 3 + [409] * 9, [r.text for r in replies]
        assert all("limit of 3" in r.json()["detail"] for r in replies if r.status_code == 409)
        winners = [r.json()["session_id"] for r in replies if r.status_code == 200]
        for sid in winners:
            a.pids.append(wait_for(lambda s=sid: a.attributes(s).get("pid")))
        [listed] = b.sdk(("list", {"machine_id": tiny}))
        assert sorted(e["session_id"] for e in listed["ok"]) == sorted(winners)
        for sid in winners:
            assert b.native("POST", f"/v1/sessions/{sid}/cancel").status_code == 200
        for pid in a.pids:
            assert wait_for(lambda p=pid: gone(p), 15)
        [again] = b.sdk(("create", {"machine_id": tiny, "wait_for_server": True}))
        assert "ok" in again  # the slots came back
        assert (
            a.native("POST", f"/v1/sessions/{again['ok']['session_id']}/cancel").status_code == 200
        )

        # 2. a lease on A, its deadline extended twice at once through B: both count, and A
        # (which enforces it) reads the new deadline before ending the lease
        spec = {"kind": "machine", "attributes": {"machine_id": "tiny", "timeout_seconds": 1.5}}
        sid = a.native("POST", "/v1/sessions", json=spec).json()["id"]
        assert a.native("POST", f"/v1/sessions/{sid}/runs", json={}).status_code == 202
        pid = wait_for(lambda: a.attributes(sid).get("pid"))
        original = seconds(a.attributes(sid)["timeout_end"])

        def extend(env: Comfy) -> httpx.Response:
            return env.native("POST", f"/v1/sessions/{sid}/timeout", json={"add_seconds": 60})

        with ThreadPoolExecutor(2) as pool:
            extended = list(pool.map(extend, [b, b]))
        assert [r.status_code for r in extended] == [200, 200], [r.text for r in extended]
        attrs = a.attributes(sid)
        assert seconds(attrs["timeout_end"]) - original == 120
        assert attrs["timeout_seconds"] == 121.5
        while time.time() < original + 2.0:  # past the first deadline, bounded by it
            time.sleep(0.1)
        assert a.attributes(sid)["end_time"] is None and not gone(pid)
        assert b.native("POST", f"/v1/sessions/{sid}/cancel").status_code == 200
        ended = wait_for(lambda: (x := a.attributes(sid))["end_time"] and x, timeout=15)
        assert ended["end_reason"] == "cancelled" and wait_for(lambda: gone(pid), 10)
