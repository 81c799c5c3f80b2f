"""The application factory: one FastAPI app per server process."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.types import ASGIApp

from sessionhub import __version__
from sessionhub.api import forward, middleware, ops, problems, telemetry, ui
from sessionhub.api.dialects import mount_dialects
from sessionhub.api.native import (
    events,
    files,
    keys,
    machines,
    otlp,
    sessions,
    stream,
    transfer,
)  # fmt: skip
from sessionhub.api.native.hot import HotFront, hot_routes
from sessionhub.api.native.otlp_wire import OtlpExportRequest
from sessionhub.config import Settings
from sessionhub.core.hub import open_hub
from sessionhub.core.ports import Driver
from sessionhub.core.transfer import ExportDocument
from sessionhub.domain.errors import Invalid
from sessionhub.domain.models import EventAppend, EventBatch

log = logging.getLogger(__name__)
ROUTERS = [m.router for m in (events, sessions, files, stream, transfer, keys, machines, otlp, ops)]
# Bodies that routes parse themselves (hot routes, OTLP): their schemas, for the docs.
SELF_PARSED_BODIES: tuple[type[BaseModel], ...] = (
    EventAppend,
    EventBatch,
    OtlpExportRequest,
    ExportDocument,  # the JSON body of POST /v1/sessions/import
)


def operation_id(route: APIRoute) -> str:
    return route.name


class SessionHubApp(FastAPI):
    """FastAPI with the lean path for hot operations in front of its middleware
    stack (unless ``settings.hot_routes`` is off) and self-parsed bodies in its
    OpenAPI document."""

    def __init__(self, settings: Settings, drivers: list[Driver]) -> None:
        super().__init__(
            title="sessionhub",
            version=__version__,
            openapi_url="/v1/openapi.json",
            docs_url=None,  # served by the UI package, its assets from this server
            redoc_url=None,
            generate_unique_id_function=operation_id,
            # Our own Prometheus metrics and logs; FastAPI's OpenTelemetry hooks cost an
            # environment lookup per request even when nothing consumes them.
            telemetry={"tracing": False, "metrics": False, "logs": False},
            lifespan=lambda app: lifespan(app, settings, drivers),
        )
        self.settings = settings

    def build_middleware_stack(self) -> ASGIApp:
        full = super().build_middleware_stack()
        if self.settings.hot_routes:
            full = HotFront(self, full, hot_routes(ROUTERS), self.settings)
        return telemetry.traced(full, self.state.tracer_provider)

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            schema = with_body_schemas(super().openapi(), SELF_PARSED_BODIES)
            self.openapi_schema = ui.docs.with_security(schema)
        return self.openapi_schema


def with_body_schemas(
    schema: dict[str, Any], models: tuple[type[BaseModel], ...]
) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in models:
        extra = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(extra.pop("$defs", {}))
        components[model.__name__] = extra
    return schema


def create_app(settings: Settings | None = None, *, drivers: list[Driver] | None = None) -> FastAPI:
    settings = settings or Settings()
    if settings.no_auth and not settings.host_is_loopback():
        raise Invalid("--no-auth is only allowed when the server binds a loopback address")
    app = SessionHubApp(settings, drivers or [])
    app.state.tracer_provider = telemetry.tracer_provider(settings)
    for router in ROUTERS:
        app.include_router(router)
    ui.install(app, at_root=settings.root_dialect is None)
    problems.install(app)
    app.state.dialect_apps = mount_dialects(app, settings.root_dialect)
    app.add_middleware(middleware.BodyLimit, settings=settings)
    app.add_middleware(middleware.RequestContext)
    app.add_middleware(CorrelationIdMiddleware, **middleware.REQUEST_ID_OPTIONS)
    app.add_middleware(forward.ForwardMark)
    return app


@asynccontextmanager
async def lifespan(app: FastAPI, settings: Settings, extra: list[Driver]) -> AsyncIterator[None]:
    try:
        async with (
            forward.worker_listener(app, settings) as node_url,
            open_hub(settings, extra, node_url=node_url) as hub,
            forward.Forwarder.open(hub.nodes) as forwarder,
        ):
            for each in (app, *app.state.dialect_apps):
                each.state.hub = hub
                each.state.forwarder = forwarder
            yield
    finally:
        await to_thread.run_sync(telemetry.shutdown, app.state.tracer_provider)
