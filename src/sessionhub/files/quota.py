"""A disk quota per session directory: a btrfs subvolume with a qgroup limit.

Where the files root is on btrfs with quotas enabled (``btrfs quota enable``) and
the server may manage them (root), each session directory is made a subvolume of
its own and given a qgroup limit. The kernel then enforces it for every writer (a
kernel cell, the agent's ``Bash``, a machine, the files API): a write past it fails
with ``EDQUOT`` ("Disk quota exceeded"), and nothing else on the disk is touched.

Why btrfs: a per-directory quota needs the filesystem's help, and the kernels this
runs on were measured (2026-12) without ``CONFIG_QUOTA``, so ext4 and XFS project
quotas (``prjquota``) cannot be mounted at all, while btrfs qgroups, which need no
quota subsystem, work. Containers and hosts that already use btrfs get it for free;
others can put the files root on a btrfs image (README "Disk quota").

Everywhere else `NoQuota` makes plain directories; the per-file cap
(``RLIMIT_FSIZE``) still holds. The ``btrfs`` command (btrfs-progs) does the work: a
subvolume and its limit take two short processes per session created.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import subprocess
from pathlib import Path

from sessionhub.domain.errors import TooLarge
from sessionhub.files import _fs

log = logging.getLogger(__name__)
SUBVOLUME_ROOT_INODE = 256  # every btrfs subvolume's top directory has this inode
FULL = (errno.EDQUOT, errno.ENOSPC)


class NoQuota:
    """Plain directories: no limit on a session directory as a whole."""

    limit_bytes: int | None = None

    def make(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)

    def remove(self, directory: Path) -> None:
        _fs.remove_tree(directory)


class BtrfsQuota(NoQuota):
    """Each session directory a subvolume limited to ``limit_bytes`` (qgroup)."""

    def __init__(self, btrfs: str, limit_bytes: int) -> None:
        self.btrfs, self.limit_bytes = btrfs, limit_bytes

    def make(self, directory: Path) -> None:
        if directory.exists():
            return  # made before (or before the quota was on: it stays a plain directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        self._run("subvolume", "create", str(directory))
        try:
            self._run("qgroup", "limit", str(self.limit_bytes), str(directory))
        except BaseException:
            self._run("subvolume", "delete", str(directory))
            raise

    def remove(self, directory: Path) -> None:
        if is_subvolume(directory):
            self._run("subvolume", "delete", str(directory))
        else:
            super().remove(directory)

    def _run(self, *args: str) -> None:
        done = subprocess.run([self.btrfs, *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise OSError(f"btrfs {' '.join(args[:2])} failed: {done.stderr.strip()}")


def is_subvolume(directory: Path) -> bool:
    try:
        return directory.is_dir() and directory.stat().st_ino == SUBVOLUME_ROOT_INODE
    except OSError:
        return False


def open_quota(root: Path, limit_bytes: int) -> NoQuota:
    """`BtrfsQuota` where ``root`` allows it, else `NoQuota` (with one warning when a
    limit was asked for: the operator should know it is not enforced)."""
    if limit_bytes <= 0:
        return NoQuota()
    reason = quota_unavailable(root)
    if reason is None:
        return BtrfsQuota(shutil.which("btrfs") or "btrfs", limit_bytes)
    log.warning(
        "session directories have no disk quota (%s); only the per-file cap holds. "
        "See README 'Disk quota' (SESSIONHUB_SESSION_QUOTA_MB=0 silences this)",
        reason,
    )
    return NoQuota()


def quota_unavailable(root: Path) -> str | None:
    """Why ``root`` cannot have per-session quotas, or None when it can."""
    while not root.exists() and root != root.parent:
        root = root.parent  # not made yet: it will be on its nearest existing parent's
    if filesystem_type(root) != "btrfs":
        return f"{root} is on {filesystem_type(root)}, not btrfs"
    btrfs = shutil.which("btrfs")
    if btrfs is None:
        return "the btrfs command (btrfs-progs) is not installed"
    if os.geteuid() != 0:
        return "setting btrfs quota limits needs root"
    shown = subprocess.run([btrfs, "qgroup", "show", str(root)], capture_output=True, check=False)
    if shown.returncode != 0:
        return f"quotas are not enabled on {root} (btrfs quota enable {root})"
    return None


def filesystem_type(path: Path) -> str:
    """The type of the filesystem ``path`` is on, from ``/proc/self/mountinfo``
    (the mount with the longest mount point that contains it)."""
    real, best, kind = os.path.realpath(path), "", "unknown"
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields, _, rest = line.partition(" - ")
        mount_point = fields.split()[4].replace("\\040", " ")
        inside = real == mount_point or real.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best):
            best, kind = mount_point, rest.split()[0]
    return kind


def quota_error(exc: OSError, limit_bytes: int | None) -> TooLarge | None:
    """The client's error for a write the quota (or a full disk) stopped, else None."""
    if exc.errno not in FULL:
        return None
    if exc.errno == errno.EDQUOT and limit_bytes:
        return TooLarge(f"the session's disk quota of {limit_bytes} bytes is used up",
                        limit=limit_bytes)  # fmt: skip
    return TooLarge("no space left for the session's files")
