"""The server's side of ``core.ports.Host``: a driver's narrow window on the service."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sessionhub.config import Settings
from sessionhub.core.nodes import NodeService
from sessionhub.core.ports import Host, MachineProfiles
from sessionhub.core.service import SessionService
from sessionhub.domain.models import Event, EventCreate, Page, Session, SessionCreate
from sessionhub.execution.sandbox import Sandbox


class ServiceHost(Host):
    def __init__(
        self,
        settings: Settings,
        service: SessionService,
        machines: MachineProfiles,
        sandbox: Sandbox,
        nodes: NodeService | None = None,
    ) -> None:
        self.settings, self._service, self.machines = settings, service, machines
        self.sandbox, self._nodes = sandbox, nodes

    async def get(self, session: Session) -> Session:
        return await self._service.get(session.workspace_id, session.id)

    async def append(self, session: Session, events: Sequence[EventCreate]) -> list[Event]:
        return await self._service.append(session.workspace_id, session.id, events)

    async def events(self, session: Session, *, after: int = 0, limit: int = 500) -> Page[Event]:
        return await self._service.events(
            session.workspace_id, session.id, after=after, limit=limit
        )

    async def all_events(self, session: Session) -> list[Event]:
        return await self._service.all_events(session.workspace_id, session.id)

    async def set_attributes(self, session: Session, attributes: Mapping[str, Any]) -> Session:
        return await self._service.set_attributes(session.workspace_id, session.id, attributes)

    async def change_attributes(
        self, session: Session, change: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> Session:
        return await self._service.change_attributes(session.workspace_id, session.id, change)

    async def create_child(self, parent: Session, spec: SessionCreate) -> Session:
        child = spec.model_copy(update={"parent_id": parent.id})
        return (await self._service.create(parent.workspace_id, child)).session

    def directory(self, session: Session) -> Path:
        return self._service.files.directory(session.workspace_id, session.id)

    def publish(self, session_id: str, message: Any) -> None:
        self._service.bus.publish(session_id, message)

    async def running_sessions(self, kind: str) -> list[Session]:
        return await self._service.running_sessions(kind)

    async def release_lease(self, resource: str) -> None:
        if self._nodes is not None:
            await self._nodes.release(resource)
