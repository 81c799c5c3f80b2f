"""The application factory: one FastAPI app per server process."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute

from sessionhub import __version__
from sessionhub.api import middleware, ops, problems
from sessionhub.api.dialects import mount_dialects
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
from sessionhub.core.hub import open_hub
from sessionhub.core.ports import Driver
from sessionhub.domain.errors import Invalid
from sessionhub.domain.models import EventAppend, EventBatch

log = logging.getLogger(__name__)


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
    async with open_hub(settings, extra) as hub:
        app.state.hub = hub
        for sub in app.state.dialect_apps:
            sub.state.hub = hub
        yield
