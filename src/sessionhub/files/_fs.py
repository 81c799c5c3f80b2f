"""Blocking filesystem steps behind ``SessionFiles``; each runs in a worker thread.

Containment rule: a client path is joined to the *resolved* session directory and
resolved again, following every symlink; the result (and the directory that holds
the named entry) must lie strictly inside the session directory. Walks never
follow symlinks and open files with ``O_NOFOLLOW``, so listings, exports and
cleanup only ever see regular files that really live in the directory.

Reads are safe against a swap between the check and the use: code running in the
session (a kernel cell, say) could replace a checked directory with a symlink in
between, so a file is opened by walking its real path one component at a time from
the session directory, each step with ``O_NOFOLLOW`` (`open_beneath`); a component
that has become a symlink fails the open instead of leaving the directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, NamedTuple

from sessionhub.domain.errors import Invalid, NotFound, PathNotAllowed
from sessionhub.domain.models import FileInfo
from sessionhub.files._paths import TEMP_PREFIX, is_addressable

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class Located(NamedTuple):
    base: Path  # the resolved session directory
    entry: Path  # the named entry itself; may be a symlink
    real: Path  # where the entry leads once every symlink is followed


def to_ns(moment: datetime) -> int:
    """Nanoseconds since the epoch, exactly; a naive ``moment`` is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def from_ns(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ns // 1000)


def info(relpath: str, st: os.stat_result) -> FileInfo:
    return FileInfo(path=relpath, size=st.st_size, modified_at=from_ns(st.st_mtime_ns))


def resolve(path: Path) -> Path:
    try:
        return path.resolve()
    except (RuntimeError, OSError):  # 3.11 reports a symlink loop as RuntimeError
        raise PathNotAllowed("file path runs into a symlink loop") from None


def locate(directory: Path, parts: tuple[str, ...]) -> Located:
    base = resolve(directory)
    parent = resolve(base.joinpath(*parts[:-1]))
    entry = parent / parts[-1]
    real = resolve(entry)
    if not (parent == base or parent.is_relative_to(base)) or not _strictly_inside(base, real):
        raise PathNotAllowed("file path leads outside the session directory")
    return Located(base, entry, real)


def _strictly_inside(base: Path, path: Path) -> bool:
    return path != base and path.is_relative_to(base)


def existing_file(directory: Path, parts: tuple[str, ...]) -> Located:
    located = locate(directory, parts)
    if not located.real.is_file():
        raise NotFound("file not found")
    return located


def open_existing(directory: Path, parts: tuple[str, ...]) -> tuple[BinaryIO, Path]:
    """The checked file, opened: its real path (symlinks inside the directory allowed)
    is walked again from the directory without following any symlink."""
    located = existing_file(directory, parts)
    handle = open_beneath(located.base, str(located.real.relative_to(located.base)))
    if handle is None:
        raise NotFound("file not found")
    return handle, located.real


def delete(directory: Path, parts: tuple[str, ...]) -> None:
    """Unlink the named entry; a symlink is removed itself, never its target."""
    located = existing_file(directory, parts)
    try:
        located.entry.unlink()
    except FileNotFoundError:
        raise NotFound("file not found") from None
    prune_empty_parents(located.base, located.entry.parent)


def prune_empty_parents(base: Path, start: Path) -> None:
    """Remove empty directories from ``start`` upwards, stopping below ``base``."""
    current = start
    while _strictly_inside(base, current):
        try:
            current.rmdir()
        except OSError:  # not empty, already gone or not a directory: stop here
            return
        current = current.parent


def walk(base: Path) -> list[tuple[str, os.stat_result]]:
    """Every addressable regular file under ``base``, sorted; symlinks are not followed."""
    found: list[tuple[str, os.stat_result]] = []
    pending = [(base, "")]
    while pending:
        folder, prefix = pending.pop()
        for entry in _scan(folder):
            relpath = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                pending.append((Path(entry.path), relpath + "/"))
            elif entry.is_file(follow_symlinks=False) and is_addressable(relpath):
                st = _lstat(entry)
                if st is not None:
                    found.append((relpath, st))
    found.sort(key=lambda item: item[0])
    return found


def _scan(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _lstat(entry: os.DirEntry[str]) -> os.stat_result | None:
    try:
        return entry.stat(follow_symlinks=False)
    except FileNotFoundError:
        return None


def open_regular(path: Path) -> BinaryIO | None:
    """Open ``path`` for reading if it is still a regular file and not a symlink."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError:  # gone, a symlink (ELOOP) or otherwise unopenable
        return None
    return _regular(fd)


def open_beneath(base: Path, relpath: str) -> BinaryIO | None:
    """Open ``base/relpath`` for reading without following a symlink at any step (a
    directory swapped for one since the path was checked fails the open); None when
    it is gone, is not a regular file, or a step is a symlink."""
    *folders, name = relpath.split("/")
    try:
        fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        for folder in folders:
            step = os.open(folder, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = step
        return _regular(os.open(name, _OPEN_FLAGS, dir_fd=fd))
    except OSError:
        return None
    finally:
        os.close(fd)


def _regular(fd: int) -> BinaryIO | None:
    handle = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        handle.close()
        return None
    os.set_blocking(fd, True)
    return handle


def read(base: Path, relpath: str) -> tuple[FileInfo, bytes] | None:
    handle = open_beneath(base, relpath)
    if handle is None:
        return None
    with handle:
        st = os.fstat(handle.fileno())
        return info(relpath, st), handle.read()


def remove_newer(directory: Path, threshold_ns: int) -> list[str]:
    base = resolve(directory)
    newer = [relpath for relpath, st in walk(base) if st.st_mtime_ns > threshold_ns]
    for relpath in newer:
        path = base / relpath
        path.unlink(missing_ok=True)
        prune_empty_parents(base, path.parent)
    return newer


def remove_tree(directory: Path) -> None:
    """Delete the session directory; rmtree refuses a symlinked root and never follows links."""
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(directory)


def copy_tree(source: Path, target: Path) -> None:
    """Copy files (keeping mtimes) and symlinks as symlinks; skip temp and special files."""
    if not source.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        return
    shutil.copytree(source, target, symlinks=True, ignore=_not_copied, dirs_exist_ok=True)


def _not_copied(folder: str, names: list[str]) -> set[str]:
    return {name for name in names if _skip_in_copy(os.path.join(folder, name), name)}


def _skip_in_copy(path: str, name: str) -> bool:
    if name.startswith(TEMP_PREFIX):
        return True
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return True
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode))


def prepare_write(directory: Path, parts: tuple[str, ...]) -> Path:
    """Checked destination of a write, with its parent directories created."""
    target = locate(directory, parts).real
    if target.is_dir():
        raise Invalid("file path names a directory")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise Invalid("a parent of the file path is a file, not a directory") from None
    return target


def open_temp(folder: Path) -> tuple[BinaryIO, Path]:
    fd, name = tempfile.mkstemp(dir=folder, prefix=TEMP_PREFIX, suffix=".part")
    return os.fdopen(fd, "wb"), Path(name)


def commit(handle: BinaryIO, temp: Path, target: Path, mtime_ns: int | None = None) -> None:
    """Make the temp file durable, then atomically put it in place of ``target``."""
    handle.flush()
    if mtime_ns is not None:
        os.utime(handle.fileno(), ns=(mtime_ns, mtime_ns))
    os.fsync(handle.fileno())
    handle.close()
    os.replace(temp, target)


def discard(handle: BinaryIO, temp: Path) -> None:
    handle.close()
    temp.unlink(missing_ok=True)


def write_whole(directory: Path, parts: tuple[str, ...], data: bytes, mtime_ns: int | None) -> None:
    target = prepare_write(directory, parts)
    handle, temp = open_temp(target.parent)
    try:
        handle.write(data)
        commit(handle, temp, target, mtime_ns)
    except BaseException:
        discard(handle, temp)
        raise
