"""Kernel sessions: the rules of a session that is a notebook/console/file bound to a kernel.

A kernel session's ``name`` is its path, so "create or return the session at this
path" is the store's atomic get-or-create on (workspace, kind, name); a per-path lock
keeps a second caller in this process from seeing the session before its kernel is
bound. The kernel a session uses is in its attributes; several sessions may share
one, and a kernel is shut down only when the last session using it lets go.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from sessionhub.core.errors import Invalid, NotFound
from sessionhub.core.models import Session, SessionCreate, SessionQuery, SessionUpdate
from sessionhub.core.service import SessionService
from sessionhub.drivers.kernel import Execution, KernelDriver

KIND = "kernel"


@dataclass
class KernelSessions:
    service: SessionService
    driver: KernelDriver
    _locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)

    @classmethod
    def of(cls, service: SessionService) -> KernelSessions:
        """The one instance for this server's kernel driver."""
        driver = service.drivers.get(KIND)
        if not isinstance(driver, KernelDriver):
            raise Invalid("the kernel driver is not installed")
        found = _INSTANCES.get(id(driver))
        if found is None or found.driver is not driver:
            found = _INSTANCES[id(driver)] = cls(service, driver)
        return found

    # reading
    async def get(self, workspace_id: str, session_id: str) -> Session:
        session = await self.service.get(workspace_id, session_id)
        if session.kind != KIND:
            raise NotFound(f"Session not found: session_id={session_id!r}")
        self.driver.bind(session)
        return session

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
        kernel_id = str(session.attributes.get("kernel_id", ""))
        if self.driver.running(kernel_id):
            return self.driver.model(kernel_id)
        # Not running in this process (the server restarted): it starts on first use.
        stamp = session.updated_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return {
            "id": kernel_id, "name": session.attributes.get("kernel_name", ""),
            "last_activity": stamp, "execution_state": "starting", "connections": 0,
        }  # fmt: skip

    # writing
    async def open(
        self, workspace_id: str, *, path: str, type: str, name: str,
        kernel_name: str | None, kernel_id: str | None,
    ) -> Session:  # fmt: skip
        """The session at ``path``, created with its kernel when there is none."""
        lock = self._locks.setdefault((workspace_id, path), asyncio.Lock())
        async with lock:
            if kernel_id is None or not self.driver.running(kernel_id):
                kernel_name = await self.driver.check_name(kernel_name)
            spec = SessionCreate(
                kind=KIND, name=path, title=name or None,
                attributes={"path": path, "type": type, "jupyter_name": name},
            )  # fmt: skip
            created = await self.service.create(workspace_id, spec, if_exists="return")
            session = created.session
            if created.replayed and session.attributes.get("kernel_id"):
                self.driver.bind(session)
                return session
            try:
                return await self._attach(session, kernel_name, kernel_id)
            except BaseException:
                await self.service.delete(workspace_id, session.id)
                raise

    async def _attach(self, session: Session, name: str | None, kernel_id: str | None) -> Session:
        if kernel_id is not None and self.driver.running(kernel_id):
            state = self.driver.state(kernel_id)
        else:
            directory = self.service.files.directory(session.workspace_id, session.id)
            state = await self.driver.start(
                name, kernel_id, owner=session.workspace_id, cwd=directory
            )
        updated = await self.service.store.set_attributes(
            workspace_id=session.workspace_id, session_id=session.id,
            attributes={"kernel_id": state.id, "kernel_name": state.name},
        )  # fmt: skip
        self.driver.unbind(session)
        self.driver.bind(updated)
        return updated

    async def update(
        self, workspace_id: str, session_id: str, changes: dict[str, Any],
        kernel: dict[str, Any] | None,
    ) -> Session:  # fmt: skip
        """Rename path/name/type; switch kernel (by id, else start one by name)."""
        session = await self.get(workspace_id, session_id)
        if changes:
            session = await self._rename(session, changes)
        if kernel and (kernel.get("id") is not None or kernel.get("name") is not None):
            session = await self._switch(session, kernel.get("id"), kernel.get("name"))
        return session

    async def _rename(self, session: Session, changes: dict[str, Any]) -> Session:
        attributes = dict(changes)
        if "name" in attributes:
            attributes["jupyter_name"] = attributes.pop("name")
        if "path" in changes and changes["path"] != session.name:
            patch = SessionUpdate(name=changes["path"])
            await self.service.update(session.workspace_id, session.id, patch, if_version=None)
        return await self.service.store.set_attributes(
            workspace_id=session.workspace_id, session_id=session.id, attributes=attributes
        )

    async def _switch(self, session: Session, kernel_id: str | None, name: str | None) -> Session:
        old = str(session.attributes.get("kernel_id", ""))
        if kernel_id is not None:
            if not self.driver.running(kernel_id):
                raise Invalid(f"No such kernel: {kernel_id}")
            updated = await self._attach(session, None, kernel_id)
        else:
            updated = await self._attach(session, await self.driver.check_name(name), None)
        if old and old != updated.attributes.get("kernel_id"):
            await self.driver.release(old)
        return updated

    async def delete(self, workspace_id: str, session_id: str) -> None:
        await self.get(workspace_id, session_id)
        await self.service.delete(workspace_id, session_id)

    # kernels on demand
    async def ensure_kernel(self, session: Session) -> str:
        """The session's kernel id, its kernel (re)started when this process does not run it."""
        kernel_id = str(session.attributes.get("kernel_id", ""))
        name = session.attributes.get("kernel_name")
        if not kernel_id:
            session = await self._attach(session, await self.driver.check_name(name), None)
            return str(session.attributes["kernel_id"])
        directory = self.service.files.directory(session.workspace_id, session.id)
        await self.driver.ensure(kernel_id, name, session.workspace_id, directory)
        self.driver.bind(session)
        return kernel_id

    async def find_kernel(self, workspace_id: str, kernel_id: str) -> str:
        """A kernel this workspace may use; a session's kernel starts again on first use."""
        if self.driver.running(kernel_id):
            if self.driver.state(kernel_id).owner in (None, workspace_id):
                return kernel_id
            raise NotFound(f"Kernel does not exist: {kernel_id}")
        for session in await self.all(workspace_id):
            if session.attributes.get("kernel_id") == kernel_id:
                return await self.ensure_kernel(session)
        raise NotFound(f"Kernel does not exist: {kernel_id}")

    def kernels(self, workspace_id: str) -> list[dict[str, Any]]:
        return [
            self.driver.model(state.id)
            for state in list(self.driver.kernels.values())
            if state.owner in (None, workspace_id)
        ]

    async def execute(self, workspace_id: str, session_id: str, code: str) -> Execution:
        session = await self.get(workspace_id, session_id)
        kernel_id = await self.ensure_kernel(session)
        return await self.driver.execute(kernel_id, code)


_INSTANCES: dict[int, KernelSessions] = {}
