"""Finding and killing a machine session's process group (psutil), as after a crash."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from sessionhub.kinds.machine import process

pytestmark = pytest.mark.anyio


def spawn_group(session_id: str) -> subprocess.Popen[bytes]:
    """A leader with a child in its own new process group, marked for ``session_id``."""
    env = {**os.environ, process.MARK: session_id}
    return subprocess.Popen(
        ["sh", "-c", "sleep 60 & exec sleep 60"], env=env, start_new_session=True
    )


def wait_for(predicate: object, tries: int = 100) -> None:
    for _ in range(tries):
        if callable(predicate) and predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition never held")


async def test_a_marked_group_is_found_and_reaped_whole() -> None:
    leader = spawn_group("s-1")
    try:
        wait_for(lambda: len(process._members(leader.pid)) == 2)
        members = process._members(leader.pid)
        assert leader.pid in members
        assert process._marked(leader.pid, "s-1")
        assert not process._marked(leader.pid, "s-2")  # another session's mark
        assert not process._ours(leader.pid, "s-2")  # a reused group is left alone
        assert await process.reap_orphan(leader.pid, "s-1")
        leader.wait(timeout=10)
        wait_for(lambda: process._members(leader.pid) == [])
    finally:
        process.signal_group(leader.pid, process.signal.SIGKILL)
        leader.wait(timeout=10)


def test_a_gone_process_is_not_marked_and_has_no_members() -> None:
    done = subprocess.run(["true"], check=True)
    assert done.returncode == 0
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert not process._marked(gone.pid, "s-1")
    assert process._members(gone.pid) == []
