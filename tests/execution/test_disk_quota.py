"""A session directory's disk quota holds against the tenant's own code.

The files root is a btrfs filesystem with quotas on (a loop-mounted image), so each
session directory is a subvolume limited to ``QUOTA_MB``. The agent's ``Bash`` and a
kernel cell each write many files, every one under the per-file cap, well past the
quota: the write fails with "Disk quota exceeded" in the tool result and the cell's
output, the session stays usable, the server answers, and another session of the same
workspace keeps its own room.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sessionhub import Client
from sessionhub.files.quota import is_subvolume
from tests.execution.conftest import Tenants
from tests.files.btrfs import mounted_btrfs

QUOTA_MB = 8
# 1 MB files (the per-file cap is 2 MB), 20 of them: 20 MB against an 8 MB quota
FILL = "for i in $(seq 20); do head -c 1000000 /dev/zero > f$i.bin || break; done; echo stopped=$i"
CELL = """
import os
written = 0
try:
    for i in range(20):
        with open(f'c{i}.bin', 'wb') as f:
            f.write(b'0' * 1_000_000)
            f.flush(); os.fsync(f.fileno())
        written += 1
    outcome = 'no error'
except OSError as exc:
    outcome = f'{exc.strerror} after {written}'
outcome"""
SCRIPT = [
    {"tools": [("Bash", {"command": FILL, "timeout": 30_000}),
               ("Bash", {"command": "rm f*.bin; echo room > after.txt; cat after.txt"})]},
    {"content": "Done."},
]  # fmt: skip


@pytest.fixture
def btrfs(tmp_path: Path) -> Iterator[Path]:
    with mounted_btrfs(tmp_path) as mount:
        yield mount


@pytest.fixture
def sandbox_settings(btrfs: Path) -> dict[str, Any]:
    return {"files_root": btrfs / "files", "session_quota_mb": QUOTA_MB}


@pytest.mark.parametrize("script", [SCRIPT])
def test_code_writing_past_the_quota_fails_and_nothing_else_does(tenants: Tenants) -> None:
    out = tenants.harness.run("turn", text="fill the disk")
    (fill, after) = [c["result"] for c in out["messages"][1]["toolCalls"]]
    assert "Disk quota exceeded" in fill and "stopped=20" not in fill, fill
    assert "room" in after  # freed, the session writes again
    with Client(base_url=tenants.harness.server.url, api_key=tenants.harness.key) as client:
        kernel = client.create_session(kind="kernel")
        assert is_subvolume(tenants.settings.files_dir.joinpath(*kernel_dir(client, kernel.id)))
        cell = client.execute(kernel.id, CELL, run_timeout=120)
        outputs = cell.payload["outputs"]
        (result,) = [o for o in outputs if o["output_type"] == "execute_result"]
        text = result["data"]["text/plain"]
        assert "Disk quota exceeded after" in text, outputs
        assert int(text.strip("'").split()[-1]) >= QUOTA_MB // 2  # its own room, not the other's
        again = client.execute(kernel.id, "1 + 1", run_timeout=60)
        assert "2" in str(again.payload["outputs"])  # the kernel lives on
        assert client.get_session(kernel.id).id == kernel.id  # the server answers


def kernel_dir(client: Client, session_id: str) -> tuple[str, str]:
    session = client.get_session(session_id)
    return session.workspace_id, session.id
