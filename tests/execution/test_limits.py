"""Cgroup housekeeping: a server sweeps only what dead servers left behind."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from sessionhub.execution.limits import Cgroups


def test_sweep_keeps_a_live_servers_cgroups_and_removes_a_dead_ones(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    live = tmp_path / f"run-{os.getpid()}-aaaa"
    orphan = tmp_path / f"run-{gone.pid}-bbbb"
    legacy = tmp_path / "run-cccc"
    for directory in (live, orphan, legacy):
        directory.mkdir()
    Cgroups({"pids": tmp_path}, unified=False).sweep()
    assert live.exists()
    assert not orphan.exists() and not legacy.exists()
