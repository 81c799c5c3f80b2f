"""A btrfs filesystem with quotas on, in a sparse image loop-mounted under a test's
temporary directory: where per-session disk quotas can be tested (root, loop devices,
btrfs-progs; the test is skipped, saying why, where one is missing)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

IMAGE_BYTES = 320 * 1024 * 1024  # sparse; btrfs wants ~110 MB at least


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


@contextlib.contextmanager
def mounted_btrfs(where: Path) -> Iterator[Path]:
    """``where/mnt``: a fresh btrfs with quotas enabled, unmounted afterwards."""
    if os.geteuid() != 0 or shutil.which("mkfs.btrfs") is None:
        pytest.skip("btrfs quotas need root and btrfs-progs (scripts/bootstrap installs it)")
    image, mount = where / "files.img", where / "mnt"
    with image.open("wb") as handle:
        handle.truncate(IMAGE_BYTES)
    mount.mkdir()
    made = run("mkfs.btrfs", "-q", str(image))
    mounted = run("mount", "-o", "loop", str(image), str(mount))
    if made.returncode or mounted.returncode:
        pytest.skip(f"cannot mount a btrfs image here: {made.stderr or mounted.stderr}")
    try:
        assert run("btrfs", "quota", "enable", str(mount)).returncode == 0
        yield mount
    finally:
        run("umount", "-l", str(mount))
        image.unlink(missing_ok=True)
