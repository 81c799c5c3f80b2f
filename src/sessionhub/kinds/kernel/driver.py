"""The ``kernel`` kind: a real Jupyter kernel (jupyter_client + ipykernel) behind a session.

The driver owns the kernel processes of this server process. A session keeps its
kernel's id and name in ``attributes`` (``kernel_id``, ``kernel_name``); the kernel
itself lives only as long as the server, so a session whose kernel is not running
(server restart, culled, died) gets one again, under the same id, on first use
(``ensure``). One watcher per kernel reads its iopub channel to keep
``execution_state`` and ``last_activity`` current and to collect the outputs of
executions that are being recorded. With an idle timeout set, a culler shuts down
kernels that sat idle, without a websocket client, for longer than that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import zmq.asyncio
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from jupyter_client.multikernelmanager import AsyncMultiKernelManager
from jupyter_client.session import Session as ZmqSession

from sessionhub.core.ports import Capability, Driver, Host
from sessionhub.domain.attributes.kernel import KernelAttributes
from sessionhub.domain.errors import Interrupted, NotFound, Unavailable
from sessionhub.domain.models import Event, Session
from sessionhub.execution.sandbox import SandboxUnavailable, UnavailableSandbox
from sessionhub.kinds.kernel.cull import IdleCuller
from sessionhub.kinds.kernel.locks import KeyedLocks
from sessionhub.kinds.kernel.pool import KernelPool
from sessionhub.kinds.kernel.provisioner import KernelSandbox
from sessionhub.kinds.kernel.state import (
    OUTPUT_TYPES,
    UNFINISHED,
    Execution,
    KernelState,
    UnknownKernelName,
    transcript_event,
)

log = logging.getLogger(__name__)


class KernelDriver(Driver):
    kind = "kernel"
    capabilities = frozenset({Capability.fork, Capability.rewind})

    def __init__(self) -> None:
        self.specs_manager = KernelSpecManager()
        self.manager = AsyncMultiKernelManager(
            kernel_spec_manager=self.specs_manager,
            kernel_manager_class="sessionhub.kinds.kernel.provisioner.SandboxedKernelManager",
        )
        self.kernels: dict[str, KernelState] = {}
        self._host: Host | None = None
        # the sessions (by id) that use each kernel, in this process: they record its cells
        self.users: dict[str, dict[str, Session]] = defaultdict(dict)
        self._starting: KeyedLocks[str] = KeyedLocks()
        # the rules' locks (sessionhub.kinds.kernel.rules): per (workspace, path) while a
        # session is opened, per kernel while it is started again and replayed
        self.opening: KeyedLocks[tuple[str, str]] = KeyedLocks()
        self.reviving: KeyedLocks[str] = KeyedLocks()
        self._tasks: set[asyncio.Task[None]] = set()
        self._culler: asyncio.Task[None] | None = None
        self._held: dict[str, int] = {}  # kernels being started or replayed: never culled
        self.replay_on_restart = False
        self.started = datetime.now(UTC)
        self.pool: KernelPool | None = None
        self._sandbox: KernelSandbox | None = None

    # lifecycle
    async def open(self, host: Host) -> None:
        self._host = host
        settings = host.settings
        self._sandbox = KernelSandbox(host.sandbox, self.runtime_dir)
        self.replay_on_restart = settings.kernel_replay_on_restart
        # connection files (kernel-<id>.json) in this node's runtime dir, not the cwd
        self.runtime_dir.mkdir(parents=True, exist_ok=True)
        self.manager.connection_dir = str(self.runtime_dir)
        if settings.kernel_cull_idle_timeout > 0:
            culler = IdleCuller(self, settings.kernel_cull_idle_timeout)
            self._culler = asyncio.create_task(culler.run(settings.kernel_cull_interval))
        if not isinstance(host.sandbox, UnavailableSandbox):  # no kernel could start
            self.pool = KernelPool.from_settings(self, settings)
        if self.pool is not None:
            self.pool.start()

    @property
    def host(self) -> Host:
        """The server's window, given at ``open``."""
        if self._host is None:
            raise Unavailable("the kernel driver is not open")
        return self._host

    @property
    def sandbox(self) -> KernelSandbox:
        """How this server's kernels are launched (the sandbox, the kernel runtime root)."""
        if self._sandbox is None:
            raise Unavailable("the kernel driver is not open")
        return self._sandbox

    def workdir_inside(self, workdir: Path) -> Path:
        """Where a kernel started in ``workdir`` sees that directory."""
        return self.sandbox.workdir_inside(workdir)

    @property
    def runtime_dir(self) -> Path:
        """Where this node's kernels keep their connection files (and ipc sockets)."""
        return self.host.settings.runtime_dir / "kernels"

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
        if self._culler is not None:
            self._culler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._culler
        for state in list(self.kernels.values()):
            await self.shutdown(state.id)
        # The manager's ZMQ context is ours: close it now, not whenever it is collected.
        context: zmq.asyncio.Context = self.manager.context
        if not context.closed:
            context.destroy(linger=0)

    # kernelspecs
    def default_name(self) -> str:
        return str(self.manager.default_kernel_name)

    async def check_name(self, name: str | None) -> str:
        name = name or self.default_name()
        try:
            await anyio.to_thread.run_sync(self.specs_manager.get_kernel_spec, name)
        except NoSuchKernel:
            raise UnknownKernelName(name) from None
        return name

    async def specs(self) -> dict[str, Any]:
        found: dict[str, Any] = await anyio.to_thread.run_sync(self.specs_manager.get_all_specs)
        return found

    # processes
    def running(self, kernel_id: str) -> bool:
        return kernel_id in self.kernels

    def state(self, kernel_id: str) -> KernelState:
        try:
            return self.kernels[kernel_id]
        except KeyError:
            raise NotFound(f"Kernel does not exist: {kernel_id}") from None

    async def start(
        self, name: str | None = None, kernel_id: str | None = None, *,
        owner: str | None = None, cwd: Path | None = None,
    ) -> KernelState:  # fmt: skip
        """Start a kernel in ``cwd`` (a warm one from the pool when it has one); ``owner``
        is the workspace that may see it."""
        name = await self.check_name(name)
        if kernel_id is None and self.pool is not None:
            pooled = await self.pool.take(name, owner=owner, cwd=cwd)
            if pooled is not None:
                return pooled
        kernel_id = kernel_id or str(uuid.uuid4())
        async with self._starting.hold(kernel_id):
            if kernel_id in self.kernels:
                return self.kernels[kernel_id]
            try:
                where = {"cwd": str(cwd.absolute())} if cwd is not None else {}
                await self.manager.start_kernel(
                    kernel_name=name, kernel_id=kernel_id, sandbox=self.sandbox, **where
                )
            except NoSuchKernel:
                raise UnknownKernelName(name) from None
            except SandboxUnavailable:
                raise
            except Exception as exc:
                raise Unavailable(f"the {name!r} kernel could not be started: {exc}") from exc
            state = KernelState(id=kernel_id, name=name, owner=owner)
            self.kernels[kernel_id] = state
            state.watcher = asyncio.create_task(self._watch(state))
        return state

    def reserve_pooled(self, name: str | None) -> str | None:
        """A warm kernel's id set aside for a session about to be created (see
        ``KernelPool.reserve``); None when there is no pool or it is empty."""
        if self.pool is None or name is None:
            return None
        return self.pool.reserve(name)

    def give_back_pooled(self, name: str | None, kernel_id: str) -> None:
        if self.pool is not None and name is not None:
            self.pool.give_back(name, kernel_id)

    async def adopt_pooled(
        self, kernel_id: str, *, owner: str | None, cwd: Path | None
    ) -> KernelState | None:
        return None if self.pool is None else await self.pool.adopt(kernel_id, owner=owner, cwd=cwd)

    def owned_by(self, kernel_id: str, workspace_id: str) -> bool:
        """Whether the kernel runs here and that workspace may use it."""
        state = self.kernels.get(kernel_id)
        return state is not None and state.owner in (None, workspace_id)

    async def ensure(
        self, kernel_id: str, name: str | None, owner: str | None, cwd: Path | None = None
    ) -> KernelState:
        """The kernel, started again under its id when this process does not run it
        (or its process died); another workspace's kernel is not found."""
        state = self.kernels.get(kernel_id)
        if state is not None and owner is not None and state.owner not in (None, owner):
            raise NotFound(f"Kernel does not exist: {kernel_id}")
        if state is not None and self.alive(kernel_id):
            return state
        if state is not None:
            await self.shutdown(kernel_id, now=True)
        return await self.start(name, kernel_id, owner=owner, cwd=cwd)

    async def shutdown(self, kernel_id: str, *, now: bool = False) -> None:
        state = self.kernels.pop(kernel_id, None)
        if state is None:
            return
        if state.watcher is not None:
            state.watcher.cancel()
        for pending in state.pending.values():
            pending.status = "aborted"
            pending.done.set()
        with contextlib.suppress(KeyError):
            await self.manager.shutdown_kernel(kernel_id, now=now)
        if self.pool is not None:  # a pooled kernel that never got a session: its slot
            await self.pool.remove_slot(kernel_id)

    async def interrupt(self, kernel_id: str) -> None:
        self.state(kernel_id)
        manager: Any = self.manager
        await manager.interrupt_kernel(kernel_id)

    async def restart(self, kernel_id: str) -> KernelState:
        state = self.state(kernel_id)
        if not self.alive(kernel_id):
            return await self.ensure(kernel_id, state.name, state.owner)
        state.execution_state = "restarting"
        state.watched = False  # the watcher's subscription joins the new process afresh
        await self.manager.restart_kernel(kernel_id, now=False)
        return state

    def alive(self, kernel_id: str) -> bool:
        """Whether the kernel runs here and its process has not exited."""
        if kernel_id not in self.kernels:
            return False
        try:
            provisioner = self.kernel_manager(kernel_id).provisioner
        except KeyError:
            return False
        process = getattr(provisioner, "process", None)
        return process is None or process.poll() is None

    def model(self, kernel_id: str) -> dict[str, Any]:
        state = self.state(kernel_id)
        if not self.alive(kernel_id):
            state.execution_state = "dead"
        return state.model()

    def kernel_manager(self, kernel_id: str) -> Any:
        """jupyter_client's manager of the kernel; KeyError when it does not run here."""
        return self.manager.get_kernel(kernel_id)

    def session_for(self, kernel_id: str) -> ZmqSession:
        """A signing session of its own: each keeps a history of signatures it has seen."""
        shared = self.kernel_manager(kernel_id).session
        return ZmqSession(key=shared.key, signature_scheme=shared.signature_scheme)

    def connect(self, kernel_id: str, channel: str, identity: bytes) -> zmq.asyncio.Socket:
        manager = self.kernel_manager(kernel_id)
        connect = getattr(manager, f"connect_{channel}")
        if channel == "iopub":
            socket: zmq.asyncio.Socket = connect()
        else:
            socket = connect(identity=identity)
        return socket

    # iopub watcher: state, activity and recorded outputs
    async def _watch(self, state: KernelState) -> None:
        socket = self.connect(state.id, "iopub", b"")
        session = self.session_for(state.id)
        try:
            while True:
                parts = await socket.recv_multipart()
                _, rest = session.feed_identities(parts, copy=True)
                msg = session.deserialize(rest, content=True)
                self._observe(state, msg)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("kernel %s: iopub watcher stopped", state.id)
        finally:
            socket.close(linger=0)

    def _observe(self, state: KernelState, msg: dict[str, Any]) -> None:
        state.last_activity = datetime.now(UTC)
        state.watched = True
        msg_type = msg["header"].get("msg_type")
        content = msg.get("content") or {}
        parent_id = (msg.get("parent_header") or {}).get("msg_id")
        if msg_type == "status":
            state.execution_state = content.get("execution_state", state.execution_state)
        execution = state.pending.get(parent_id) if parent_id else None
        if execution is None:
            return
        if msg_type in OUTPUT_TYPES:
            output = {"output_type": msg_type, **content}
            execution.outputs.append(output)
            if msg_type == "error":
                execution.status = "error"
        elif msg_type == "execute_input":
            execution.execution_count = content.get("execution_count")
        elif msg_type == "status" and content.get("execution_state") == "idle":
            state.pending.pop(str(parent_id), None)
            execution.done.set()
            if execution.record:
                task = asyncio.create_task(self._record(state, execution))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _record(self, state: KernelState, execution: Execution) -> None:
        """Started in the order executions finish; the lock (FIFO) keeps that order."""
        async with state.recording:
            await self.record(state.id, execution)

    async def record(
        self, kernel_id: str, execution: Execution, *, skip: Session | None = None
    ) -> None:
        """Append the finished execution to every session using the kernel (but ``skip``)."""
        event = transcript_event(execution)
        for session in list(self.users.get(kernel_id, {}).values()):
            if skip is not None and session.id == skip.id:
                continue
            try:
                await self.host.append(session, [event])
            except NotFound:
                self.users[kernel_id].pop(session.id, None)
            except Exception:
                log.exception("kernel %s: could not record %s", kernel_id, execution.msg_id)

    async def record_for(self, session: Session, kernel_id: str, execution: Execution) -> Event:
        """Record for this session first (its event is the answer), then for the others."""
        event = transcript_event(execution)
        state = self.kernels.get(kernel_id)
        async with state.recording if state is not None else contextlib.nullcontext():
            [recorded] = await self.host.append(session, [event])
            await self.record(kernel_id, execution, skip=session)
        return recorded

    def track(
        self, kernel_id: str, msg_id: str, code: str, *, record: bool = True, probe: bool = False
    ) -> Execution:
        """Collect the outputs of one execute_request (sent by us or a websocket client)."""
        execution = Execution(msg_id=msg_id, code=code, record=record, probe=probe)
        self.state(kernel_id).pending[msg_id] = execution
        return execution

    def submit(self, kernel_id: str, code: str, *, record: bool = True) -> Execution:
        """Send an execute_request; the returned execution completes on the kernel's idle."""
        session = self.session_for(kernel_id)
        socket = self.connect(kernel_id, "shell", session.bsession)
        try:
            msg = session.msg("execute_request", {
                "code": code, "silent": False, "store_history": True,
                "user_expressions": {}, "allow_stdin": False, "stop_on_error": True,
            })  # fmt: skip
            execution = self.track(kernel_id, msg["header"]["msg_id"], code, record=record)
            session.send(socket, msg)
        finally:
            socket.close(linger=1000)
        return execution

    async def settle(self, kernel_id: str, execution: Execution, timeout: float) -> None:
        """Until the execution is done; TimeoutError after ``timeout``, Interrupted if it dies."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not execution.done.is_set():
            if not self.alive(kernel_id):
                self.forget(kernel_id, execution)
                raise Interrupted(f"kernel {kernel_id} died while running the code")
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(execution.done.wait(), min(left, 0.5))

    def forget(self, kernel_id: str, execution: Execution) -> None:
        state = self.kernels.get(kernel_id)
        if state is not None:
            state.pending.pop(execution.msg_id, None)

    async def execute(
        self, kernel_id: str, code: str, *, timeout: float = 60.0, record: bool = True
    ) -> Execution:
        """Run ``code`` on the kernel and wait for it to finish."""
        execution = self.submit(kernel_id, code, record=record)
        await self.settle(kernel_id, execution, timeout)
        return execution

    # idle culling (sessionhub.kinds.kernel.cull)
    @contextlib.contextmanager
    def hold(self, kernel_id: str) -> Iterator[None]:
        """Keep the culler off this kernel while it is (re)started and replayed."""
        self._held[kernel_id] = self._held.get(kernel_id, 0) + 1
        try:
            yield
        finally:
            self._held[kernel_id] -= 1
            if not self._held[kernel_id]:
                del self._held[kernel_id]

    def held(self, kernel_id: str) -> bool:
        return kernel_id in self._held

    async def wait_ready(self, kernel_id: str, *, timeout: float = 30.0) -> None:
        """Until the kernel answers a kernel_info_request."""
        client: Any = self.kernel_manager(kernel_id).client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=timeout)
        finally:
            client.stop_channels()
        await self._watcher_live(kernel_id, timeout=timeout)

    async def until_watched(self, kernel_id: str, *, timeout: float = 30.0) -> None:
        """Before code is sent: our iopub watcher must be listening, or its cell goes unrecorded."""
        if self.state(kernel_id).watched:
            return
        try:
            await self._watcher_live(kernel_id, timeout=timeout)
        except TimeoutError:
            raise Unavailable(f"kernel {kernel_id} did not answer within {timeout:g} s") from None

    async def _watcher_live(self, kernel_id: str, *, timeout: float) -> None:
        """Until our iopub watcher sees the kernel's messages.

        A ZeroMQ subscription takes a moment to join ("slow joiner"): a cell run right
        after start could publish before the watcher listens and go unrecorded. Probe
        with kernel_info_request until the watcher observes its idle status.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        session = self.session_for(kernel_id)
        while True:
            socket = self.connect(kernel_id, "shell", session.bsession)
            msg = session.msg("kernel_info_request", {})
            probe = self.track(kernel_id, msg["header"]["msg_id"], "", record=False, probe=True)
            try:
                session.send(socket, msg)
                await asyncio.wait_for(probe.done.wait(), 0.5)
                return
            except TimeoutError:
                self.state(kernel_id).pending.pop(msg["header"]["msg_id"], None)
                if loop.time() > deadline:
                    raise
            finally:
                socket.close(linger=0)

    # sessions using kernels
    def bind(self, session: Session) -> None:
        kernel_id = KernelAttributes.of(session).kernel_id
        if kernel_id:
            self.users[kernel_id][session.id] = session

    def unbind(self, session: Session) -> None:
        for users in self.users.values():
            users.pop(session.id, None)

    async def release(self, kernel_id: str) -> None:
        """Shut the kernel down unless a session still uses it."""
        if not self.users.get(kernel_id):
            self.users.pop(kernel_id, None)
            await self.shutdown(kernel_id)

    async def on_delete(self, session: Session) -> None:
        self.unbind(session)
        kernel_id = KernelAttributes.of(session).kernel_id
        if kernel_id:
            await self.release(kernel_id)

    # fork and rewind: replay the kept cells in a kernel
    async def on_fork(self, source: Session, fork: Session) -> None:
        name = KernelAttributes.of(source).kernel_name
        state = await self.start(name, owner=fork.workspace_id, cwd=self.host.directory(fork))
        updated = await self.host.set_attributes(
            fork, KernelAttributes.bound_to(state.id, state.name)
        )
        self.bind(updated)
        await self.replay(updated, state.id)

    async def on_rewind(self, session: Session) -> None:
        attributes = KernelAttributes.of(session)
        kernel_id = attributes.kernel_id
        if not kernel_id:
            return
        if kernel_id in self.kernels:
            await self.restart(kernel_id)
        else:
            directory = self.host.directory(session)
            await self.ensure(kernel_id, attributes.kernel_name, session.workspace_id, directory)
        self.bind(session)
        await self.replay(session, kernel_id)

    async def replay(self, session: Session, kernel_id: str) -> None:
        """Re-execute the session's recorded cells, without recording them again.

        Cells that never finished (timed out, aborted) are left out: they would hold the
        kernel as long again.
        """
        await self.wait_ready(kernel_id)
        after = 0
        while True:
            page = await self.host.events(session, after=after, limit=500)
            for event in page.items:
                after = event.seq
                if event.type == "execution" and event.payload.get("status") in UNFINISHED:
                    continue
                if event.type == "execution":
                    code = str(event.payload.get("code", ""))
                    await self.execute(kernel_id, code, record=False)
            if page.next_cursor is None:
                return
