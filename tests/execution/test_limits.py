"""Cgroup housekeeping (a server sweeps only what dead servers left behind) and the
``sh`` prefix that applies a launch's rlimits."""

from __future__ import annotations

import os
import resource
import subprocess
from pathlib import Path

from sessionhub.execution.limits import Cgroup, Cgroups, Limits, Restraints, rlimits_of


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


def limits_seen(argv: list[str]) -> dict[str, tuple[str, str]]:
    """Soft and hard limits of a process started behind ``argv``, from /proc/self/limits."""
    shown = subprocess.run([*argv, "cat", "/proc/self/limits"], capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    rows = {}
    for line in shown.stdout.splitlines()[1:]:
        name, soft, hard = line[:26].strip(), *line[26:].split()[:2]
        rows[name] = (soft, hard)
    return rows


def test_the_sh_prefix_sets_each_rlimit_exactly_rounded_down_to_its_unit() -> None:
    """``ulimit`` counts files in 512-byte blocks and memory in KiB: the prefix converts,
    never rounding up (a cap a byte past the setting would be a cap not kept)."""
    limits = Limits(file_bytes=3 * 2**20 + 100, memory_bytes=2**30 + 1000, cpu_seconds=9)
    seen = limits_seen(Restraints(None, rlimits_of(limits, None)).argv())
    assert seen["Max file size"] == (str(3 * 2**20),) * 2
    assert seen["Max address space"] == (str(2**30),) * 2
    assert seen["Max cpu time"] == ("9", "9")
    assert Restraints().argv() == []  # nothing to apply: no prefix at all


def test_with_a_memory_cgroup_memory_is_not_also_an_rlimit() -> None:
    cgroup = Cgroup((), memory=True, pids=True)
    kinds = [which for which, _ in rlimits_of(Limits(memory_bytes=2**30, file_bytes=2**20), cgroup)]
    assert kinds == [resource.RLIMIT_FSIZE]
