"""A warm pool of pre-started kernels, per kernelspec.

Starting ipykernel takes most of a second of CPU, so a cold session answers its first
``execute_request`` about a second after it was created. With ``kernel_pool_size`` > 0
the kernel driver keeps that many kernels of each pooled kernelspec started and
already past the readiness handshake (``kernel_info`` answered, our iopub watcher
subscribed). A background task starts a replacement after every take; the server's
shutdown stops the pooled kernels.

Each pooled kernel starts, sandboxed like any other, in a slot directory of its own
(``<data_dir>/kernel-pool/<kernel id>``), bound into its sandbox as its session
directory. Handing it to a session makes that slot *become* the session's directory:
what the new session's directory already holds (a fork's copied files) moves into the
slot, then the slot is renamed to the session directory's path. A bind mount and a
working directory follow the directory itself, not its path, so the kernel inside
now works in the session's directory, and nothing else of the host was ever visible
to it. A silent ``execute_request`` (no history, no execution count, nothing recorded)
then points IPython's directory history at it, and restarts launch in it.

Pooled kernels are registered with the driver under the owner ``POOL_OWNER``, which is
no workspace's id, so no workspace lists or reaches them until one is handed out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import uuid
from collections import deque
from pathlib import Path
from typing import Any

import anyio
import zmq.asyncio
from jupyter_client.session import Session as ZmqSession
from prometheus_client import Gauge

from sessionhub.config import Settings
from sessionhub.domain.errors import Invalid
from sessionhub.kinds.kernel.state import POOL_OWNER, KernelProcesses, KernelState

log = logging.getLogger(__name__)
READY = Gauge("sessionhub_kernel_pool_ready", "Warm kernels ready to hand out", ["kernelspec"])

# Run silently in a pooled kernel before hand-out: what a kernel started in ``cwd`` sees.
MOVE_CODE = """\
import os as _sh_os, pathlib as _sh_pathlib
_sh_os.chdir({cwd!r})
try:
    get_ipython().user_ns["_dh"][:] = [_sh_pathlib.Path({cwd!r})]
except Exception:
    pass
del _sh_os, _sh_pathlib
"""


class KernelPool:
    """``size`` ready kernels for each kernelspec in ``names``, refilled in the background."""

    refill_delay = 0.3  # seconds: let the taker's first cell run before the next kernel starts
    ready_timeout = 60.0
    move_timeout = 15.0

    def __init__(
        self, driver: KernelProcesses, *, size: int, names: list[str], directory: Path
    ) -> None:
        self.driver, self.size, self.directory = driver, size, directory
        self.ready: dict[str, deque[str]] = {name: deque() for name in names}
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._discarding: set[asyncio.Task[None]] = set()

    @classmethod
    def from_settings(cls, driver: KernelProcesses, settings: Settings) -> KernelPool | None:
        """The pool the settings ask for, or None when ``kernel_pool_size`` is 0."""
        if settings.kernel_pool_size <= 0:
            return None
        directory = (settings.data_dir / "kernel-pool").absolute()
        directory.mkdir(parents=True, exist_ok=True)
        names = settings.kernel_pool_names or [driver.default_name()]
        return cls(driver, size=settings.kernel_pool_size, names=names, directory=directory)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="kernel-pool")

    def available(self, name: str) -> int:
        return len(self.ready.get(name, ()))

    async def take(self, name: str, *, owner: str | None, cwd: Path | None) -> KernelState | None:
        """A ready kernel of ``name`` moved to ``cwd`` and given to ``owner``, if one is ready."""
        while (kernel_id := self.reserve(name)) is not None:
            state = await self.adopt(kernel_id, owner=owner, cwd=cwd)
            if state is not None:
                return state
        return None

    def reserve(self, name: str) -> str | None:
        """Set a ready kernel of ``name`` aside, so that its id can be written into a
        session before the session exists; ``adopt`` or ``give_back`` it next."""
        queue = self.ready.get(name)
        if not queue:
            return None
        kernel_id = queue.popleft()
        self._publish(name)
        self._wake.set()
        return kernel_id

    def give_back(self, name: str, kernel_id: str) -> None:
        """Return a reserved kernel that was not needed (shut down if the pool is full)."""
        queue = self.ready.get(name)
        if queue is None or self._stopped.is_set() or len(queue) >= self.size:
            self._discard(kernel_id)
            return
        queue.appendleft(kernel_id)
        self._publish(name)

    async def adopt(
        self, kernel_id: str, *, owner: str | None, cwd: Path | None
    ) -> KernelState | None:
        """The reserved kernel moved to ``cwd`` and given to ``owner``; None (and the
        kernel shut down) if it died or could not be moved."""
        handed = False
        try:
            handed = await self._hand_out(kernel_id, cwd)
        finally:
            if not handed:  # dead, unmovable, or the taker was cancelled
                self._discard(kernel_id)
        if not handed:
            return None
        state = self.driver.state(kernel_id)
        state.owner = owner
        return state

    async def _hand_out(self, kernel_id: str, cwd: Path | None) -> bool:
        if not await self._alive(kernel_id):
            return False
        try:
            if cwd is not None:
                slot = self.slot(kernel_id)
                await anyio.to_thread.run_sync(become, slot, cwd.absolute())
                await self._move(kernel_id, cwd.absolute())
        except (TimeoutError, RuntimeError, OSError, zmq.ZMQError) as exc:
            log.warning("pooled kernel %s could not be handed out: %s", kernel_id, exc)
            return False
        return True

    def slot(self, kernel_id: str) -> Path:
        """The pooled kernel's directory until it is handed out."""
        return self.directory / kernel_id

    def _discard(self, kernel_id: str) -> None:
        task = asyncio.create_task(self._shutdown(kernel_id))
        self._discarding.add(task)
        task.add_done_callback(self._discarding.discard)

    async def close(self) -> None:
        """Stop refilling (a start under way finishes), then shut the ready kernels down."""
        self._stopped.set()
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, self.ready_timeout + 30)
        kernel_ids = [kernel_id for queue in self.ready.values() for kernel_id in queue]
        for name, queue in self.ready.items():
            queue.clear()
            self._publish(name)
        await asyncio.gather(*(self._shutdown(k) for k in kernel_ids), *self._discarding)

    async def _shutdown(self, kernel_id: str) -> None:
        """Stop a kernel that was not handed out, and remove its slot."""
        await self.driver.shutdown(kernel_id)
        await self.remove_slot(kernel_id)

    async def remove_slot(self, kernel_id: str) -> None:
        """The slot of a kernel that never became a session's (a handed-out one's is gone)."""
        await anyio.to_thread.run_sync(shutil.rmtree, self.slot(kernel_id), True)

    # filling
    async def _run(self) -> None:
        failures = 0
        while not self._stopped.is_set():
            self._wake.clear()
            for name in list(self.ready):
                while self._wanted(name):
                    if not await self._add(name):
                        failures += 1
                        await self._pause(min(60.0, 2.0**failures))
                        self._wake.set()
                        break
                    failures = 0
            await self._wake.wait()
            await self._pause(self.refill_delay)

    def _wanted(self, name: str) -> bool:
        return (
            not self._stopped.is_set() and name in self.ready and self.available(name) < self.size
        )

    async def _add(self, name: str) -> bool:
        """Start one kernel of ``name`` and wait until it is ready; False if that failed."""
        kernel_id = str(uuid.uuid4())
        self.slot(kernel_id).mkdir(mode=0o700)
        try:
            state = await self.driver.start(
                name, kernel_id, owner=POOL_OWNER, cwd=self.slot(kernel_id)
            )
        except Invalid:  # no such kernelspec
            log.error("kernel pool: no kernelspec named %r; not pooling it", name)
            self.ready.pop(name, None)
            return True
        except Exception:
            log.exception("kernel pool: a %r kernel did not start", name)
            await self._shutdown(kernel_id)
            return False
        try:
            await self.driver.wait_ready(state.id, timeout=self.ready_timeout)
        except Exception:
            log.exception("kernel pool: a %r kernel did not become ready", name)
            await self._shutdown(state.id)
            return False
        if name in self.ready:
            self.ready[name].append(state.id)
            self._publish(name)
        return True

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), seconds)

    def _publish(self, name: str) -> None:
        READY.labels(kernelspec=name).set(self.available(name))

    # hand-out
    async def _alive(self, kernel_id: str) -> bool:
        if not self.driver.running(kernel_id):
            return False
        manager: Any = self.driver.kernel_manager(kernel_id)
        return bool(await manager.is_alive())

    async def _move(self, kernel_id: str, cwd: Path) -> None:
        """Point the kernel at ``cwd`` (as it sees it), also for its restarts."""
        inside = self.driver.workdir_inside(cwd)
        session = self.driver.session_for(kernel_id)
        socket = self.driver.connect(kernel_id, "shell", session.bsession)
        try:
            msg = session.msg("execute_request", {
                "code": MOVE_CODE.format(cwd=str(inside)), "silent": True, "store_history": False,
                "user_expressions": {}, "allow_stdin": False, "stop_on_error": False,
            })  # fmt: skip
            session.send(socket, msg)
            reply = await asyncio.wait_for(
                _reply(socket, session, msg["header"]["msg_id"]), self.move_timeout
            )
        finally:
            socket.close(linger=0)
        if reply.get("status") != "ok":
            raise RuntimeError(f"chdir failed: {reply.get('evalue', reply.get('status'))}")
        manager: Any = self.driver.kernel_manager(kernel_id)
        # jupyter_client restarts a kernel with the arguments it was started with.
        manager._launch_args["cwd"] = str(cwd)


def become(slot: Path, directory: Path) -> None:
    """The slot becomes ``directory`` (same filesystem): what ``directory`` holds moves
    into the slot first, and back again if a step fails."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    moved: list[Path] = []
    try:
        if directory.exists():
            for entry in list(directory.iterdir()):
                entry.rename(slot / entry.name)
                moved.append(entry)
            directory.rmdir()
        slot.rename(directory)
    except OSError:
        directory.mkdir(exist_ok=True)
        for entry in moved:
            (slot / entry.name).rename(entry)
        raise


async def _reply(socket: zmq.asyncio.Socket, session: ZmqSession, msg_id: str) -> dict[str, Any]:
    """The content of the shell reply to ``msg_id``."""
    while True:
        parts = await socket.recv_multipart()
        _, rest = session.feed_identities(parts, copy=True)
        msg = session.deserialize(rest, content=True)
        if (msg.get("parent_header") or {}).get("msg_id") == msg_id:
            content: dict[str, Any] = msg.get("content") or {}
            return content
