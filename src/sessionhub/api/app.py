"""The application factory: one FastAPI app per server process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute

from sessionhub import __version__
from sessionhub.api import middleware, ops, problems
from sessionhub.api.dialects import mount_dialects
from sessionhub.api.hub import Hub
from sessionhub.api.native import (
    events,
    files,
    hot,
    keys,
    machines,
    otlp,
    sessions,
    stream,
    transfer,
)  # fmt: skip
from sessionhub.api.native.otlp_wire import OtlpExportRequest
from sessionhub.config import Settings
from sessionhub.core.bus import EventBus
from sessionhub.core.ports import Driver, DriverHost
from sessionhub.core.registry import DriverRegistry
from sessionhub.core.runs import RunSupervisor
from sessionhub.core.service import SessionService
from sessionhub.domain.errors import Invalid
from sessionhub.domain.models import EventAppend, EventBatch
from sessionhub.files import SessionFiles
from sessionhub.store.base import SessionStore
from sessionhub.store.sql.store import open_store

log = logging.getLogger(__name__)
DEFAULT_WORKSPACE = "default"


def operation_id(route: APIRoute) -> str:
    return route.name


def create_app(settings: Settings | None = None, *, drivers: list[Driver] | None = None) -> FastAPI:
    settings = settings or Settings()
    if settings.no_auth and not settings.host_is_loopback():
        raise Invalid("--no-auth is only allowed when the server binds a loopback address")
    app = FastAPI(
        title="sessionhub",
        version=__version__,
        openapi_url="/v1/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        generate_unique_id_function=operation_id,
        # Our own Prometheus metrics and logs; FastAPI's OpenTelemetry hooks cost an
        # environment lookup per request even when nothing consumes them.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        lifespan=lambda app: lifespan(app, settings, drivers or []),
    )
    for module in (events, sessions, files, stream, transfer, keys, machines, otlp, ops):
        app.include_router(module.router)
    if settings.hot_routes:
        hot.install(app, settings)
    problems.install(app)
    app.state.dialect_apps = mount_dialects(app, settings.root_dialect)
    app.add_middleware(middleware.BodyLimit, settings=settings)
    app.add_middleware(middleware.RequestContext)
    add_body_schemas(app)
    return app


def add_body_schemas(app: FastAPI) -> None:
    """Register models that routes parse themselves (hot routes, OTLP), for their docs."""
    original = app.openapi

    def openapi() -> dict[str, object]:
        if app.openapi_schema is None:
            schema = original()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (EventAppend, EventBatch, OtlpExportRequest):
                extra = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(extra.pop("$defs", {}))
                components[model.__name__] = extra
        return app.openapi_schema or original()

    app.openapi = openapi  # type: ignore[method-assign]


@asynccontextmanager
async def lifespan(app: FastAPI, settings: Settings, extra: list[Driver]) -> AsyncIterator[None]:
    store = open_store(
        settings.resolved_database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        pg_pool_size=settings.pg_pool_size,
        pg_writers=settings.pg_writers,
    )
    await store.open()
    bus = EventBus()
    unsubscribe = store.subscribe(bus.notify)
    drivers = DriverRegistry.from_entry_points(extra)
    runs = RunSupervisor(store)
    service = SessionService(
        store=store,
        files=SessionFiles(settings.files_dir, max_file_bytes=settings.max_file_bytes),
        drivers=drivers,
        bus=bus,
        runs=runs,
    )
    hub = Hub(settings=settings, store=store, service=service, bus=bus)
    hub.default_workspace_id = await bootstrap(store, settings)
    await store.hold_owner_lock(runs.owner)
    await drivers.open(DriverHost(settings=settings, service=service))
    await store.interrupt_orphaned_runs(owner=runs.owner)
    app.state.hub = hub
    for sub in app.state.dialect_apps:
        sub.state.hub = hub
    reaper = asyncio.create_task(reap_forever(service, settings.reaper_interval))
    try:
        yield
    finally:
        reaper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reaper
        await runs.close()
        await drivers.close()
        unsubscribe()
        await store.close()


async def bootstrap(store: SessionStore, settings: Settings) -> str:
    """Ensure the default workspace; on a fresh server, mint and print an admin key."""
    workspace = await store.get_workspace(name=DEFAULT_WORKSPACE)
    if workspace is None:
        with contextlib.suppress(Exception):
            await store.create_workspace(name=DEFAULT_WORKSPACE)
        workspace = await store.get_workspace(name=DEFAULT_WORKSPACE)
    assert workspace is not None
    if not settings.no_auth and await store.count_keys() == 0:
        new = await store.create_key(workspace_id=workspace.id, name="admin", admin=True)
        print(f"admin API key: {new.secret}", file=sys.stdout, flush=True)
        print("  (shown once; create more with `sessionhub keys create`)", flush=True)
    return workspace.id


async def reap_forever(service: SessionService, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            removed = await service.reap_expired()
            if removed:
                log.info("reaped %d expired sessions", removed)
        except Exception:
            log.exception("the expiry reaper failed; retrying next round")
