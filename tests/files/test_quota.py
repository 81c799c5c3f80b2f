"""Per-session disk quotas: a btrfs subvolume per session directory, limited by a qgroup."""

from __future__ import annotations

import errno
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from sessionhub.domain.errors import TooLarge
from sessionhub.files import SessionFiles
from sessionhub.files.quota import BtrfsQuota, NoQuota, is_subvolume, open_quota, quota_error
from tests.files.btrfs import mounted_btrfs

pytestmark = pytest.mark.anyio
MB = 1024 * 1024


@pytest.fixture
def btrfs(tmp_path: Path) -> Iterator[Path]:
    with mounted_btrfs(tmp_path) as mount:
        yield mount


async def chunks(total: int, size: int = MB) -> AsyncIterator[bytes]:
    for _ in range(total // size):
        yield b"x" * size


async def test_each_session_directory_is_a_subvolume_with_its_own_limit(btrfs: Path) -> None:
    quota = open_quota(btrfs, 4 * MB)
    assert isinstance(quota, BtrfsQuota)
    files = SessionFiles(btrfs, max_file_bytes=100 * MB, quota=quota)
    await files.create("ws", "s1")
    await files.create("ws", "s2")
    assert is_subvolume(files.directory("ws", "s1"))
    await files.write("ws", "s1", "small.bin", chunks(2 * MB))  # within the quota
    with pytest.raises(TooLarge, match="disk quota of 4194304 bytes"):
        await files.write("ws", "s1", "big.bin", chunks(8 * MB))
    assert [f.path for f in await files.list("ws", "s1")] == ["small.bin"]  # nothing half-written
    await files.write("ws", "s2", "other.bin", chunks(3 * MB))  # s2 has a quota of its own
    await files.copy("ws", "s1", "fork")
    assert is_subvolume(files.directory("ws", "fork"))
    assert [f.path for f in await files.list("ws", "fork")] == ["small.bin"]
    await files.remove("ws", "s1")
    assert not files.directory("ws", "s1").exists()


async def test_a_files_root_without_btrfs_quotas_gets_plain_directories_and_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        quota = open_quota(tmp_path, 4 * MB)
    assert type(quota) is NoQuota
    assert "no disk quota" in caplog.text and "not btrfs" in caplog.text
    caplog.clear()
    assert type(open_quota(tmp_path, 0)) is NoQuota and not caplog.text  # 0: asked for none


def test_only_a_full_quota_or_disk_is_the_clients_error() -> None:
    assert quota_error(OSError(errno.EDQUOT, "Disk quota exceeded"), 5) is not None
    assert quota_error(OSError(errno.ENOSPC, "No space left"), None) is not None
    assert quota_error(OSError(errno.EACCES, "Permission denied"), 5) is None
