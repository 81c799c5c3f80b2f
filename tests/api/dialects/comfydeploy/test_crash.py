"""A server killed with SIGKILL leaves its machines running; the next start reaps them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from sessionhub.config import Settings
from sessionhub.testing.fixtures import free_port
from tests.api.dialects.comfydeploy.conftest import Comfy, make_settings, seed
from tests.kinds.machine.support import gone, wait_for


@contextmanager
def server(settings: Settings, port: int) -> Iterator[subprocess.Popen[bytes]]:
    command = [sys.executable, "-m", "sessionhub", "serve", "--port", str(port),
               "--data-dir", str(settings.data_dir), "--database-url",
               settings.resolved_database_url, "--log-format", "text"]  # fmt: skip
    with open(settings.data_dir / f"server-{port}.log", "ab") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=log)
    try:
        wait_for(lambda: _healthy(port), timeout=30)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_orphans_of_a_crashed_server_are_reaped_on_restart(
    tmp_path: Path, sdk_python: Path
) -> None:
    settings = make_settings(tmp_path)
    token, machines = seed(settings)
    port = free_port()
    env = Comfy(f"http://127.0.0.1:{port}", token, machines, sdk_python)
    with server(settings, port) as first:
        # the family machine's command leaves a background child in its process group
        [made] = env.sdk(("create", {"machine_id": machines["family"], "wait_for_server": True}))
        sid, url = made["ok"]["session_id"], made["ok"]["url"]
        pid = env.attributes(sid)["pid"]
        child = int(env.native("GET", f"/v1/sessions/{sid}/files/child.pid").text)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    try:
        assert not gone(pid) and httpx.get(url, timeout=5).status_code == 200  # orphaned
        os.kill(pid, signal.SIGKILL)  # the leader dies too, its child lives on in the group
        assert wait_for(lambda: gone(pid), timeout=10) and not gone(child)
        with server(settings, port):
            assert wait_for(lambda: gone(pid), timeout=10)
            assert wait_for(lambda: gone(child), timeout=10)  # the whole group
            attrs = env.attributes(sid)
            assert attrs["end_reason"] == "reaped after a server restart" and attrs["end_time"]
            assert attrs["cost"] > 0  # price times the runtime until the reaping
            [listed, got] = env.sdk(
                ("list", {"machine_id": machines["family"]}), ("get", {"session_id": sid})
            )
            assert listed == {"ok": []}
            assert got == {"status": 404, "body": {"detail": "GPUEvent not found"}}
            events = env.native("GET", f"/v1/sessions/{sid}/events").json()["items"]
            assert [e["type"] for e in events] == ["gpu.start", "gpu.ready", "gpu.end"]
    finally:
        if not gone(child):
            os.killpg(pid, signal.SIGKILL)
