"""The sandbox itself, through `Sandbox.run`: what a process inside sees and may use."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from sessionhub.config import Settings
from sessionhub.execution.bubblewrap import BubblewrapSandbox, bwrap_path
from sessionhub.execution.factory import open_sandbox
from sessionhub.execution.limits import Cgroups, Limits
from sessionhub.execution.sandbox import (
    Completed,
    NoSandbox,
    Sandbox,
    SandboxSpec,
    UnavailableSandbox,
)
from sessionhub.kinds.agent.tools import ToolError, bash
from tests.execution.conftest import no_cgroup_left

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap is not installed"),
]
MB = 1024 * 1024
LIMITS = Limits(memory_bytes=128 * MB, processes=32, file_bytes=1 * MB)


def bubblewrap(cgroups: Cgroups | None = None) -> BubblewrapSandbox:
    return BubblewrapSandbox(bwrap_path() or "bwrap", limits=LIMITS, cgroups=cgroups)


async def sh(sandbox: Sandbox, workdir: Path, command: str, **env: str) -> Completed:
    spec = SandboxSpec(workdir=workdir, env=env)
    return await sandbox.run(["bash", "-c", command], spec, timeout=20)


async def test_only_the_workdir_and_a_private_tmp_are_writable(tmp_path: Path) -> None:
    own, other = tmp_path / "own", tmp_path / "other"
    own.mkdir()
    other.mkdir()
    (other / "secret").write_text("theirs")
    done = await sh(bubblewrap(), own, f"echo mine > f; cat {other}/secret; echo x > {other}/w; "
                                       "echo t > /tmp/t; cat /tmp/t; ls /etc/shadow")  # fmt: skip
    out = done.stdout.decode()
    assert (own / "f").read_text() == "mine\n" and "t\n" in out
    assert "theirs" not in out and not (other / "w").exists()
    assert "No such file" in done.stderr.decode()


async def test_the_environment_is_the_allowlist_and_the_callers_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SESSIONHUB_DATABASE_URL", "postgresql://secret")
    for sandbox in (bubblewrap(), NoSandbox()):
        done = await sh(sandbox, tmp_path, "env; cat /proc/1/environ", MINE="yes")
        out = done.stdout.decode()
        assert "MINE=yes" in out and "postgresql://secret" not in out


async def test_proc_shows_only_the_sandbox(tmp_path: Path) -> None:
    done = await sh(bubblewrap(), tmp_path, "ls -d /proc/[0-9]* | wc -l")
    assert int(done.stdout) < 5


@pytest.mark.skipif(not Cgroups.find().parents, reason="no writable cgroup here")
async def test_memory_and_processes_are_capped_by_a_cgroup_that_goes_with_the_tree(
    tmp_path: Path,
) -> None:
    cgroups = Cgroups.find()
    hog = await sh(bubblewrap(cgroups), tmp_path, "python3 -c 'bytearray(400 * 1024 * 1024)'")
    assert hog.code != 0
    forks = await sh(bubblewrap(cgroups), tmp_path,
                     "for i in $(seq 100); do sleep 3 & done 2>&1 | head -1; echo end")  # fmt: skip
    assert b"Resource temporarily unavailable" in forks.stdout + forks.stderr
    await asyncio.to_thread(no_cgroup_left)  # the cgroups go once the trees have ended


async def test_without_a_cgroup_memory_falls_back_to_rlimit_as(tmp_path: Path) -> None:
    hog = await sh(bubblewrap(Cgroups({}, unified=False)), tmp_path,
                   "python3 -c 'bytearray(400 * 1024 * 1024)'")  # fmt: skip
    assert b"MemoryError" in hog.stderr


async def test_a_file_past_the_cap_fails_clearly(tmp_path: Path) -> None:
    done = await sh(bubblewrap(), tmp_path, "head -c 3000000 /dev/zero > big; echo $?")
    assert done.stdout.decode().strip() == "153"  # SIGXFSZ: "File size limit exceeded"
    assert (tmp_path / "big").stat().st_size == 1 * MB


def test_start_up_warns_when_the_sandbox_is_off(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sessionhub.execution.factory"):
        sandbox = open_sandbox(Settings(sandbox="none"))
    assert sandbox.name == "none" and "single-user setups only" in caplog.text


async def test_without_a_sandbox_bash_is_a_tool_error_naming_both_fixes(tmp_path: Path) -> None:
    with pytest.raises(ToolError) as refused:
        await bash(UnavailableSandbox(), tmp_path, {"command": "true"})
    assert "apt-get install bubblewrap" in str(refused.value)
    assert "SESSIONHUB_SANDBOX=none" in str(refused.value)


async def test_a_python_environment_under_tmp_is_visible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server whose venv lives under /tmp (a checkout there) still runs code: the
    private /tmp is mounted before the Python environment is bound into it."""
    prefix = tmp_path / "venv"
    prefix.mkdir()
    (prefix / "marker").write_text("the environment")
    own = tmp_path / "own"
    own.mkdir()
    monkeypatch.setattr("sessionhub.execution.bubblewrap.python_prefixes", lambda: (prefix,))
    done = await sh(bubblewrap(), own, f"cat {prefix}/marker")
    assert done.stdout.decode() == "the environment", done.stderr.decode()
