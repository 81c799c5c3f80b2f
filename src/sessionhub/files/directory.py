"""Each session's isolated directory, ``<root>/<workspace_id>/<session_id>/``.

Every method that touches the disk hands the blocking work to a worker thread;
the checks on client paths are in ``_paths`` and the containment rule in ``_fs``.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import tarfile
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import anyio
from anyio import to_thread

from sessionhub.domain.errors import Invalid, TooLarge
from sessionhub.domain.models import FileInfo
from sessionhub.files import _fs
from sessionhub.files._paths import check_id, check_relative_path
from sessionhub.files.quota import NoQuota, quota_error

_FLUSH_BYTES = 256 * 1024
PROC_FDS = Path("/proc/self/fd")


@dataclass
class OpenFile:
    """A file opened for serving. ``serve_path`` names the open file itself (Linux's
    ``/proc/self/fd``), so a server that opens it by name gets this very file even if
    the session's code renames or swaps paths meanwhile; ``close`` when served."""

    handle: BinaryIO
    real: Path  # where it was found (served by name where there is no /proc)

    @property
    def name(self) -> str:
        return self.real.name

    @property
    def serve_path(self) -> Path:
        by_fd = Path(f"/proc/self/fd/{self.handle.fileno()}")
        return by_fd if PROC_FDS.is_dir() else self.real

    def close(self) -> None:
        self.handle.close()


class SessionFiles:
    """The files of every session, one directory each, under ``root``."""

    def __init__(self, root: Path, *, max_file_bytes: int, quota: NoQuota | None = None) -> None:
        self._root = root
        self._max_file_bytes = max_file_bytes
        self.quota = quota or NoQuota()

    def directory(self, workspace_id: str, session_id: str) -> Path:
        return (
            self._root / check_id(workspace_id, "workspace id") / check_id(session_id, "session id")
        )

    async def create(self, workspace_id: str, session_id: str) -> None:
        directory = self.directory(workspace_id, session_id)
        await to_thread.run_sync(self.quota.make, directory)

    async def remove(self, workspace_id: str, session_id: str) -> None:
        await to_thread.run_sync(self.quota.remove, self.directory(workspace_id, session_id))

    async def copy(self, workspace_id: str, source_id: str, target_id: str) -> None:
        """Give a fork its parent's files; symlinks are copied as links, never followed."""
        if source_id == target_id:
            raise Invalid("cannot copy a session's files onto itself")
        source = self.directory(workspace_id, source_id)
        target = self.directory(workspace_id, target_id)
        with self._quota_errors():
            await to_thread.run_sync(self.quota.make, target)
            await to_thread.run_sync(_fs.copy_tree, source, target)

    @contextlib.contextmanager
    def _quota_errors(self) -> Iterator[None]:
        """A write the quota (or a full disk) stopped is the client's 413, not a 500."""
        try:
            yield
        except OSError as exc:
            error = quota_error(exc, self.quota.limit_bytes)
            if error is None:
                raise
            raise error from None

    async def list(self, workspace_id: str, session_id: str) -> builtins.list[FileInfo]:
        directory = self.directory(workspace_id, session_id)
        found = await to_thread.run_sync(lambda: _fs.walk(_fs.resolve(directory)))
        return [_fs.info(relpath, st) for relpath, st in found]

    async def write(
        self, workspace_id: str, session_id: str, path: str, chunks: AsyncIterable[bytes]
    ) -> FileInfo:
        """Stream ``chunks`` to a temp file beside ``path``, then rename it into place.

        The size is counted as chunks arrive, so an oversized upload stops at the
        first chunk past the limit; on any failure the temp file is removed and an
        existing file at ``path`` is left as it was.
        """
        parts = check_relative_path(path)
        directory = self.directory(workspace_id, session_id)
        target = await to_thread.run_sync(_fs.prepare_write, directory, parts)
        handle, temp = await to_thread.run_sync(_fs.open_temp, target.parent)
        try:
            with self._quota_errors():
                await self._stream(handle, chunks)
                await to_thread.run_sync(_fs.commit, handle, temp, target)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await to_thread.run_sync(_fs.discard, handle, temp)
            raise
        st = await to_thread.run_sync(target.stat)
        return _fs.info(path, st)

    async def _stream(self, handle: BinaryIO, chunks: AsyncIterable[bytes]) -> None:
        size = 0
        buffer = bytearray()
        async for chunk in chunks:
            size += len(chunk)
            self._check_size(size)
            buffer += chunk
            if len(buffer) >= _FLUSH_BYTES:
                data, buffer = buffer, bytearray()
                await to_thread.run_sync(handle.write, data)
        if buffer:
            await to_thread.run_sync(handle.write, buffer)

    def _check_size(self, size: int) -> None:
        if size > self._max_file_bytes:
            raise TooLarge(
                f"file is larger than the limit of {self._max_file_bytes} bytes",
                limit=self._max_file_bytes,
            )

    async def open_existing(self, workspace_id: str, session_id: str, path: str) -> OpenFile:
        """An existing regular file, opened safely, for serving it."""
        parts = check_relative_path(path)
        directory = self.directory(workspace_id, session_id)
        handle, real = await to_thread.run_sync(_fs.open_existing, directory, parts)
        return OpenFile(handle, real)

    async def delete(self, workspace_id: str, session_id: str, path: str) -> None:
        parts = check_relative_path(path)
        await to_thread.run_sync(_fs.delete, self.directory(workspace_id, session_id), parts)

    async def remove_modified_after(
        self, workspace_id: str, session_id: str, moment: datetime
    ) -> builtins.list[str]:
        """Delete the files changed after ``moment`` (naive means UTC); return their paths."""
        directory = self.directory(workspace_id, session_id)
        return await to_thread.run_sync(_fs.remove_newer, directory, _fs.to_ns(moment))

    async def read_all(
        self, workspace_id: str, session_id: str
    ) -> AsyncIterator[tuple[FileInfo, bytes]]:
        directory = self.directory(workspace_id, session_id)
        base = await to_thread.run_sync(_fs.resolve, directory)
        for relpath, _ in await to_thread.run_sync(_fs.walk, base):
            item = await to_thread.run_sync(_fs.read, base, relpath)
            if item is not None:  # removed since the walk
                yield item

    async def restore(
        self,
        workspace_id: str,
        session_id: str,
        files: Iterable[tuple[str, bytes, datetime | None]],
    ) -> None:
        directory = self.directory(workspace_id, session_id)
        await to_thread.run_sync(self.quota.make, directory)
        for path, data, modified_at in files:
            parts = check_relative_path(path)
            self._check_size(len(data))
            mtime_ns = None if modified_at is None else _fs.to_ns(modified_at)
            with self._quota_errors():
                await to_thread.run_sync(_fs.write_whole, directory, parts, data, mtime_ns)

    def add_to_tar(
        self, tar: tarfile.TarFile, workspace_id: str, session_id: str, arcprefix: str = "files/"
    ) -> None:
        """Add every file as a plain regular member; blocking, so call it in a thread."""
        base = _fs.resolve(self.directory(workspace_id, session_id))
        for relpath, _ in _fs.walk(base):
            handle = _fs.open_beneath(base, relpath)
            if handle is None:
                continue
            with handle:
                tar.addfile(_tar_member(arcprefix + relpath, handle), handle)


def _tar_member(name: str, handle: BinaryIO) -> tarfile.TarInfo:
    """A member that records size, mtime and mode, but not the server's owner."""
    st = os.fstat(handle.fileno())
    member = tarfile.TarInfo(name)
    member.size = st.st_size
    member.mtime = st.st_mtime_ns / 1e9
    member.mode = st.st_mode & 0o777
    return member
