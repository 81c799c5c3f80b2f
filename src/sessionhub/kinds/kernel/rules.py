"""Kernel sessions: the rules of a session that is a notebook/console/file bound to a kernel.

A kernel session's ``name`` is its path, so "create or return the session at this
path" is the store's atomic get-or-create on (workspace, kind, name). The kernel's
id is minted before that create and stored with the row, so whichever caller (or
server process) wins starts the one kernel and every other caller gets the same
session and kernel id; a per-path lock keeps a second caller in this process from
seeing the session before its kernel is started. The kernel a session uses is in
its attributes; several sessions may share one, and a kernel is shut down only when
the last session using it lets go. A session whose kernel is not running here
(server restart, culled, died) gets it started again on first use, its transcript
replayed when the driver is configured to.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from pydantic import BaseModel, ConfigDict

from sessionhub.core.nodes import NodeService, kernel_resource
from sessionhub.core.service import SessionService
from sessionhub.domain.attributes.kernel import KernelAttributes
from sessionhub.domain.errors import (
    Interrupted,
    Invalid,
    NotFound,
    RunActive,
    SessionHubError,
    Unavailable,
    Unsupported,
)
from sessionhub.domain.models import Event, Session, SessionCreate, SessionQuery, SessionUpdate
from sessionhub.kinds.kernel.bridge import KernelBridge
from sessionhub.kinds.kernel.driver import KernelDriver
from sessionhub.kinds.kernel.state import Execution, iso

KIND = "kernel"
# a client-chosen id for a new kernel: it names the kernel's connection file
NEW_KERNEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
INTERRUPT_GRACE = 10.0  # seconds an interrupted execution gets to stop
# a session's first kernel id is derived from the session's id (see ``kernel_id_to_use``)
FIRST_KERNEL = uuid.UUID("5e55104b-6b65-4e6e-a5e1-6b65726e656c")
log = logging.getLogger(__name__)


class KernelChoice(BaseModel):
    """A client's ``kernel: {id?, name?}``: a running kernel by id, or a new one by name."""

    model_config = ConfigDict(frozen=True)
    id: str | None = None
    name: str | None = None


class SessionChanges(BaseModel):
    """A rename: Jupyter's path, name and type (None: unchanged)."""

    model_config = ConfigDict(frozen=True)
    path: str | None = None
    name: str | None = None
    type: str | None = None


@dataclass(frozen=True)
class KernelSessions:
    """The kernel rules of one server: its service and its kernel driver.

    It holds no state of its own (the locks and the kernels live in the driver, made
    once per server), so ``of`` makes one per request and two servers in one process
    share nothing.
    """

    service: SessionService
    driver: KernelDriver
    nodes: NodeService | None = None

    @classmethod
    def of(cls, service: SessionService, nodes: NodeService | None = None) -> KernelSessions:
        """The kernel rules of the server that ``service`` belongs to; with ``nodes``, a
        kernel this node starts is leased to it first, and the lease goes when it stops."""
        return cls(service, service.drivers.get_as(KIND, KernelDriver), nodes)

    # leases (sessionhub.core.nodes): claimed before a kernel starts, released when it stops
    async def _claim_new(self, workspace_id: str, kernel_id: str) -> None:
        """Lease a kernel about to start here; Unavailable when a live node holds it."""
        if self.nodes is None:
            return
        lease = await self.nodes.claim(kernel_resource(workspace_id, kernel_id))
        if not self.nodes.holds(lease):
            raise Unavailable(f"kernel {kernel_id} is being started on another node; try again")

    async def _release_if_stopped(self, workspace_id: str, kernel_id: str) -> None:
        if self.nodes is not None and kernel_id and not self.driver.running(kernel_id):
            await self.nodes.release(kernel_resource(workspace_id, kernel_id))

    # reading
    async def get(self, workspace_id: str, session_id: str) -> Session:
        session = await self.service.get(workspace_id, session_id)
        if session.kind != KIND:
            raise NotFound(f"Session not found: session_id={session_id!r}")
        self.driver.bind(session)
        return session

    async def kernel_id(self, workspace_id: str, session_id: str) -> str:
        """The id of the kernel the session uses ("" before its first kernel starts, or
        when it is not a kernel session)."""
        session = await self.service.get(workspace_id, session_id)
        return KernelAttributes.of(session).kernel_id if session.kind == KIND else ""

    async def kernel_id_to_use(self, workspace_id: str, session_id: str) -> str:
        """The session's kernel id or, before its first kernel, the id that kernel gets.

        The first kernel's id follows from the session's id, so two nodes racing the
        first execute of a session claim the same lease before either starts a kernel:
        the loser forwards to the winner and the session never has two kernels.
        """
        session = await self.service.get(workspace_id, session_id)
        if session.kind != KIND:
            return ""
        return KernelAttributes.of(session).kernel_id or first_kernel_id(session)

    async def all(self, workspace_id: str) -> list[Session]:
        found: list[Session] = []
        cursor: str | None = None
        while True:
            query = SessionQuery(kind=KIND, limit=500, cursor=cursor)
            page = await self.service.list_sessions(workspace_id, query)
            found.extend(page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        found.sort(key=lambda s: s.created_at)
        for session in found:
            self.driver.bind(session)
        return found

    def kernel_model(self, session: Session) -> dict[str, Any]:
        attributes = KernelAttributes.of(session)
        kernel_id = attributes.kernel_id
        if self.driver.running(kernel_id):
            return self.driver.model(kernel_id)
        # Not running in this process (the server restarted): it starts on first use.
        stamp = session.updated_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return {
            "id": kernel_id, "name": attributes.kernel_name or "",
            "last_activity": stamp, "execution_state": "starting", "connections": 0,
        }  # fmt: skip

    # writing
    async def open(
        self, workspace_id: str, *, path: str, type: str, name: str,
        kernel_name: str | None, kernel_id: str | None,
    ) -> Session:  # fmt: skip
        """The session at ``path``, created with its kernel when there is none."""
        async with self.driver.opening.hold((workspace_id, path)):
            attach = kernel_id is not None and self.driver.running(kernel_id)
            if attach and not self.driver.owned_by(str(kernel_id), workspace_id):
                raise Invalid(f"No such kernel: {kernel_id}")
            if attach:
                kernel_name = self.driver.state(str(kernel_id)).name
            elif kernel_id is not None and not NEW_KERNEL_ID.fullmatch(kernel_id):
                raise Invalid(
                    f"Invalid kernel id {kernel_id!r}: a new kernel's id is 1 to 100 letters, "
                    "digits, '-' or '_'"
                )
            else:
                kernel_name = await self.driver.check_name(kernel_name)
            pooled = None if attach or kernel_id else self.driver.reserve_pooled(kernel_name)
            kernel_id = kernel_id or pooled or str(uuid.uuid4())
            if not attach:
                try:
                    await self._claim_new(workspace_id, kernel_id)
                except BaseException:
                    if pooled is not None:
                        self.driver.give_back_pooled(kernel_name, pooled)
                    raise
            attributes = KernelAttributes(
                path=path, type=type, jupyter_name=name, kernel_id=kernel_id,
                kernel_name=kernel_name,
            )  # fmt: skip
            spec = SessionCreate(
                kind=KIND, name=path, title=name or None, attributes=attributes.stored()
            )
            created = await self.service.create(workspace_id, spec, if_exists="return")
            session = created.session
            if created.replayed and KernelAttributes.of(session).kernel_id:
                if pooled is not None:
                    self.driver.give_back_pooled(kernel_name, pooled)
                if KernelAttributes.of(session).kernel_id != kernel_id:
                    await self._release_if_stopped(workspace_id, kernel_id)
                self.driver.bind(session)
                return session
            try:
                return await self._attach(session, kernel_name, kernel_id, pooled=bool(pooled))
            except BaseException:
                await self.service.delete(workspace_id, session.id)
                await self._release_if_stopped(workspace_id, kernel_id)
                raise

    async def _attach(
        self, session: Session, name: str | None, kernel_id: str | None, *, pooled: bool = False
    ) -> Session:
        """Bind the session to its kernel: a running one, the pooled one reserved for it,
        or one started now (a cold start if the pooled kernel could not be handed over)."""
        directory = self.service.files.directory(session.workspace_id, session.id)
        owner = session.workspace_id
        state = None
        if pooled and kernel_id is not None:
            state = await self.driver.adopt_pooled(kernel_id, owner=owner, cwd=directory)
            kernel_id = None if state is None else kernel_id
        elif kernel_id is not None and self.driver.running(kernel_id):
            state = self.driver.state(kernel_id)
        if state is None:
            state = await self.driver.start(name, kernel_id, owner=owner, cwd=directory)
        updated = await self.service.set_attributes(
            session.workspace_id, session.id, KernelAttributes.bound_to(state.id, state.name)
        )
        self.driver.unbind(session)
        self.driver.bind(updated)
        return updated

    async def update(
        self, workspace_id: str, session_id: str, changes: SessionChanges,
        kernel: KernelChoice | None,
    ) -> Session:  # fmt: skip
        """Rename path/name/type; switch kernel (by id, else start one by name)."""
        session = await self.get(workspace_id, session_id)
        if changes.model_fields_set:
            session = await self._rename(session, changes)
        if kernel is not None and (kernel.id is not None or kernel.name is not None):
            session = await self._switch(session, kernel.id, kernel.name)
        return session

    async def _rename(self, session: Session, changes: SessionChanges) -> Session:
        if changes.path is not None and changes.path != session.name:
            patch = SessionUpdate(name=changes.path)
            await self.service.update(session.workspace_id, session.id, patch, if_version=None)
        attributes = KernelAttributes.patch(
            path=changes.path, jupyter_name=changes.name, type=changes.type
        )
        return await self.service.set_attributes(session.workspace_id, session.id, attributes)

    async def _switch(self, session: Session, kernel_id: str | None, name: str | None) -> Session:
        old = KernelAttributes.of(session).kernel_id
        if kernel_id is not None:
            try:
                await self.find_kernel(session.workspace_id, kernel_id)
            except NotFound:
                raise Invalid(f"No such kernel: {kernel_id}") from None
            updated = await self._attach(session, None, kernel_id)
        else:
            updated = await self._attach(session, await self.driver.check_name(name), None)
        if old and old != KernelAttributes.of(updated).kernel_id:
            await self.driver.release(old)
            await self._release_if_stopped(session.workspace_id, old)
        return updated

    async def delete(self, workspace_id: str, session_id: str) -> None:
        """Delete the session; its kernel stops (and its lease goes) unless another uses it."""
        session = await self.get(workspace_id, session_id)
        await self.service.delete(workspace_id, session_id)
        await self._release_if_stopped(workspace_id, KernelAttributes.of(session).kernel_id)

    # kernels on demand
    async def ensure_kernel(self, session: Session) -> str:
        """The session's kernel id, its kernel (re)started when this process does not run it."""
        attributes = KernelAttributes.of(session)
        kernel_id, name = attributes.kernel_id, attributes.kernel_name
        if not kernel_id:
            first = first_kernel_id(session)
            await self._claim_new(session.workspace_id, first)
            session = await self._attach(session, await self.driver.check_name(name), first)
            return KernelAttributes.of(session).kernel_id
        directory = self.service.files.directory(session.workspace_id, session.id)
        self.driver.bind(session)
        async with self.driver.reviving.hold(kernel_id):
            revive = not self.driver.alive(kernel_id)
            with self.driver.hold(kernel_id):
                await self.driver.ensure(kernel_id, name, session.workspace_id, directory)
                if revive and self.driver.replay_on_restart:
                    await self._replay(session, kernel_id)
        return kernel_id

    async def _replay(self, session: Session, kernel_id: str) -> None:
        try:
            await self.driver.replay(session, kernel_id)
        except (TimeoutError, RuntimeError, SessionHubError) as exc:
            log.warning("kernel %s: replay of session %s stopped: %r", kernel_id, session.id, exc)

    async def find_kernel(self, workspace_id: str, kernel_id: str, *, revive: bool = False) -> str:
        """A kernel this workspace may use; a session's kernel starts again on first use.

        A kernel that died is handed out as it is (reported ``dead``) unless ``revive``.
        """
        if self.driver.running(kernel_id):
            if not self.driver.owned_by(kernel_id, workspace_id):
                raise NotFound(f"Kernel does not exist: {kernel_id}")
            if not revive or self.driver.alive(kernel_id):
                return kernel_id
        for session in await self.all(workspace_id):
            if KernelAttributes.of(session).kernel_id == kernel_id:
                return await self.ensure_kernel(session)
        if self.driver.running(kernel_id):  # a dead kernel no session uses
            await self.driver.restart(kernel_id)
            return kernel_id
        raise NotFound(f"Kernel does not exist: {kernel_id}")

    async def bridge(self, workspace_id: str, kernel_id: str) -> KernelBridge:
        """A client's connection to a kernel this workspace may use (started again if it
        died or is not running here), once our watcher hears it: NotFound, Unavailable."""
        await self.find_kernel(workspace_id, kernel_id, revive=True)
        await self.driver.until_watched(kernel_id)
        return KernelBridge(self.driver, kernel_id)

    async def start_kernel(self, workspace_id: str, name: str | None) -> dict[str, Any]:
        """A new kernel of this workspace, by kernelspec name (the default: None)."""
        state = await self.driver.start(name, owner=workspace_id)
        return state.model()

    async def kernel(self, workspace_id: str, kernel_id: str) -> dict[str, Any]:
        await self.find_kernel(workspace_id, kernel_id)
        return self.driver.model(kernel_id)

    async def shutdown_kernel(self, workspace_id: str, kernel_id: str) -> None:
        await self.find_kernel(workspace_id, kernel_id)
        await self.driver.shutdown(kernel_id)
        await self._release_if_stopped(workspace_id, kernel_id)

    async def interrupt_kernel(self, workspace_id: str, kernel_id: str) -> None:
        await self.find_kernel(workspace_id, kernel_id)
        await self.driver.interrupt(kernel_id)

    async def restart_kernel(self, workspace_id: str, kernel_id: str) -> dict[str, Any]:
        await self.find_kernel(workspace_id, kernel_id)
        state = await self.driver.restart(kernel_id)
        return state.model()

    async def kernelspecs(self) -> tuple[str, dict[str, Any]]:
        """The default kernelspec's name, and every kernelspec by name."""
        return self.driver.default_name(), await self.driver.specs()

    async def status(self, workspace_id: str) -> dict[str, Any]:
        """Since when this server runs, its kernels, their connections and last activity."""
        kernels = await self.kernels(workspace_id)
        stamps = [k["last_activity"] for k in kernels]
        started = iso(self.driver.started)
        return {
            "started": started, "kernels": len(kernels),
            "connections": sum(k["connections"] for k in kernels),
            "last_activity": max(stamps) if stamps else started,
        }  # fmt: skip

    async def kernels(self, workspace_id: str) -> list[dict[str, Any]]:
        """Kernels running here, then the kernels of sessions that start them on first use.

        JupyterLab treats a kernel missing from this list as shut down, so a session's
        kernel is listed (as in the session model) even before it runs again.
        """
        models = [
            self.driver.model(state.id)
            for state in list(self.driver.kernels.values())
            if state.owner in (None, workspace_id)
        ]
        seen = {model["id"] for model in models}
        for session in await self.all(workspace_id):
            kernel_id = KernelAttributes.of(session).kernel_id
            if kernel_id and kernel_id not in seen and not self.driver.running(kernel_id):
                seen.add(kernel_id)
                models.append(self.kernel_model(session))
        return models

    async def execute(
        self, workspace_id: str, session_id: str, code: str, *, timeout: float = 60.0
    ) -> Event:
        """Run ``code`` in the session's kernel; the answer is the recorded execution event.

        One execution at a time: code already running on the kernel (from this API or a
        websocket client) makes this a RunActive. Past ``timeout`` the kernel is
        interrupted and the execution is recorded with status ``timeout``.
        """
        session = await self.service.get(workspace_id, session_id)
        if session.kind != KIND:
            raise Unsupported(f"{session.kind} sessions do not run code; execute needs a kernel")
        kernel_id = await self.ensure_kernel(session)
        await self.driver.until_watched(kernel_id)
        if self.driver.state(kernel_id).running_code:
            raise RunActive("the session's kernel is busy running other code")
        execution = self.driver.submit(kernel_id, code, record=False)
        try:
            await self.driver.settle(kernel_id, execution, timeout)
        except TimeoutError:
            await self._stop(kernel_id, execution, timeout)
        except asyncio.CancelledError:
            execution.record = True  # the caller left; the cell is recorded when it ends
            raise
        return await self.driver.record_for(session, kernel_id, execution)

    async def _stop(self, kernel_id: str, execution: Execution, timeout: float) -> None:
        """Interrupt an execution past its timeout; it is recorded once it does stop."""
        await self.driver.interrupt(kernel_id)
        try:
            await self.driver.settle(kernel_id, execution, INTERRUPT_GRACE)
        except TimeoutError:
            execution.record = True
            raise Interrupted(
                f"the code ran past its {timeout:g} s timeout and did not stop when "
                "interrupted; it is recorded when it finishes"
            ) from None
        execution.status = "timeout"


def first_kernel_id(session: Session) -> str:
    """The id of a session's first kernel: the same on every node (a UUIDv5 of the
    session's id), so its lease is one row whichever node starts it."""
    return str(uuid.uuid5(FIRST_KERNEL, session.id))
