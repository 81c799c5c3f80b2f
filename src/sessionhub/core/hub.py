"""What one server process holds, and the one place that opens the store.

``open_hub`` builds everything a server needs from its settings (store, service,
runs, drivers, keys, machines) and tears it down in order; ``open_admin`` is the
same for the offline CLI (keys, machines, migrations on a stopped server). No
layer above ``core`` sees the store: the API and CLI hold a ``Hub`` or an
``Admin``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial

from sessionhub.config import MiB, Settings
from sessionhub.core.bus import EventBus
from sessionhub.core.host import ServiceHost
from sessionhub.core.keys import KeyService
from sessionhub.core.machines import MachineService
from sessionhub.core.nodes import NodeService, new_node_id
from sessionhub.core.ports import Driver
from sessionhub.core.registry import DriverRegistry
from sessionhub.core.runs import RunSupervisor
from sessionhub.core.service import SessionService
from sessionhub.domain.errors import AlreadyExists, Unavailable
from sessionhub.domain.models import Principal
from sessionhub.execution.factory import open_sandbox
from sessionhub.files import SessionFiles
from sessionhub.files.quota import open_quota
from sessionhub.store import migrations
from sessionhub.store.base import SessionStore
from sessionhub.store.sql.store import open_store

log = logging.getLogger(__name__)
DEFAULT_WORKSPACE = "default"


@dataclass
class Admin:
    """Work on the database without a running server: keys, machines, workspaces."""

    keys: KeyService
    machines: MachineService
    _store: SessionStore

    async def workspace_id(self, name: str) -> str:
        """The workspace's id, created if new (another process may create it first)."""
        workspace = await self._store.get_workspace(name=name)
        if workspace is None:
            try:
                workspace = await self._store.create_workspace(name=name)
            except AlreadyExists:
                workspace = await self._store.get_workspace(name=name)
        if workspace is None:
            raise Unavailable(f"workspace {name!r} vanished while it was being created")
        return workspace.id


@dataclass
class Hub:
    settings: Settings
    service: SessionService
    keys: KeyService
    machines: MachineService
    nodes: NodeService
    default_workspace_id: str = ""
    _open: Principal | None = field(default=None, repr=False)

    @property
    def bus(self) -> EventBus:
        return self.service.bus

    def open_principal(self) -> Principal:
        """Who calls a ``--no-auth`` server: an admin of the default workspace (made once)."""
        if self._open is None or self._open.workspace_id != self.default_workspace_id:
            self._open = Principal(workspace_id=self.default_workspace_id, admin=True)
        return self._open

    async def principal_for(self, secret: str) -> Principal | None:
        return await self.keys.resolve(secret)


def _open_store(settings: Settings) -> SessionStore:
    return open_store(
        settings.resolved_database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        pg_pool_size=settings.pg_pool_size,
        pg_writers=settings.pg_writers,
    )


@asynccontextmanager
async def open_admin(settings: Settings) -> AsyncIterator[Admin]:
    store = open_store(settings.resolved_database_url)
    await store.open()
    try:
        yield Admin(KeyService(store), MachineService(store), store)
    finally:
        await store.close()


async def upgrade_database(settings: Settings) -> str | None:
    """Apply every pending migration (opening the store does, as the server does on start).

    Going through the store's open turns an unreachable database into its one-line error.
    """
    async with open_admin(settings):
        return migrations.head_revision()


async def bootstrap(admin: Admin, settings: Settings) -> str:
    """Ensure the default workspace; on a fresh server, mint and print an admin key."""
    workspace_id = await admin.workspace_id(DEFAULT_WORKSPACE)
    if not settings.no_auth and await admin.keys.count() == 0:
        new = await admin.keys.create(workspace_id, "admin", admin=True)
        print(f"admin API key: {new.secret}", file=sys.stdout, flush=True)
        print("  (shown once; create more with `sessionhub keys create`)", flush=True)
    return workspace_id


def node_settings(settings: Settings) -> Settings:
    """The settings of this process's node: its own id (and so its own runtime dir)."""
    if settings.node_id:
        return settings
    return settings.model_copy(update={"node_id": new_node_id()})


@asynccontextmanager
async def open_hub(
    settings: Settings, extra_drivers: Sequence[Driver] = (), *, node_url: str | None = None
) -> AsyncIterator[Hub]:
    """Open the store, register the node (at ``node_url`` when given), start the drivers
    and the expiry reaper; close all in reverse, handing the node's leases back."""
    settings = node_settings(settings)
    shared = settings.resolved_database_url.startswith("postgresql")
    store = _open_store(settings)
    await store.open()
    bus = EventBus()
    unsubscribe = store.subscribe(bus.notify)
    drivers = DriverRegistry.from_entry_points(list(extra_drivers))
    nodes = NodeService(store, settings, str(settings.node_id))
    runs = RunSupervisor(store, owner=nodes.id)
    quota = open_quota(settings.files_dir, settings.session_quota_mb * MiB)
    files = SessionFiles(settings.files_dir, max_file_bytes=settings.max_file_bytes, quota=quota)
    service = SessionService(store=store, files=files, drivers=drivers, bus=bus, runs=runs)
    keys, machines = KeyService(store), MachineService(store)
    hub = Hub(settings=settings, service=service, keys=keys, machines=machines, nodes=nodes)
    hub.default_workspace_id = await bootstrap(Admin(keys, machines, store), settings)
    await nodes.open(node_url)
    await store.hold_owner_lock(runs.owner)
    settings.runtime_dir.mkdir(parents=True, exist_ok=True)
    sandbox = open_sandbox(settings)
    await drivers.open(ServiceHost(settings, service, machines, sandbox, nodes))
    await store.interrupt_orphaned_runs(owner=runs.owner)
    # only PostgreSQL tells a live process from a dead one (its advisory lock); SQLite
    # has one process, whose start-up already settled the runs of the one before it
    orphans = partial(store.interrupt_orphaned_runs, owner=runs.owner) if shared else none_left
    reaper = asyncio.create_task(reap_forever(service, orphans, settings.reaper_interval))
    try:
        yield hub
    finally:
        reaper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reaper
        await runs.close()
        await drivers.close()
        await sandbox.close()
        await nodes.close()
        shutil.rmtree(settings.runtime_dir, ignore_errors=True)
        unsubscribe()
        await store.close()


async def none_left() -> int:
    return 0


async def reap_forever(
    service: SessionService, interrupt_orphans: Callable[[], Awaitable[int]], interval: float
) -> None:
    """Expired sessions go; runs of a node that died (no restart needed) are marked
    interrupted."""
    while True:
        await asyncio.sleep(interval)
        try:
            removed = await service.reap_expired()
            if removed:
                log.info("reaped %d expired sessions", removed)
            interrupted = await interrupt_orphans()
            if interrupted:
                log.info("marked %d runs of stopped nodes interrupted", interrupted)
        except Exception:
            log.exception("the expiry reaper failed; retrying next round")
