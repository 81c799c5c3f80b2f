"""OpenTelemetry traces of the server itself, exported over OTLP/HTTP when turned on.

Off by default. ``SESSIONHUB_OTEL_TRACES=1`` (needs ``pip install 'sessionhub[otel]'``)
installs the SDK's tracer provider with a batching OTLP/HTTP exporter, configured by
the standard variables: ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``), ``OTEL_EXPORTER_OTLP_HEADERS``,
``OTEL_SERVICE_NAME`` (default ``sessionhub``), ``OTEL_RESOURCE_ATTRIBUTES``,
``OTEL_TRACES_SAMPLER``, ``OTEL_BSP_SCHEDULE_DELAY`` and the rest.

Requests are traced by OpenTelemetry's ASGI instrumentation around the whole
application, hot routes included (FastAPI's own instrumentor expects Starlette's
middleware stack, which the lean path in front of it replaces); each server span is
named after its route template (``POST /v1/sessions/{session_id}/events``). Store
writes (``store.write``, one per transaction: a write batch that serves many
requests at once is one span of the writer's, not a child of each) and driver runs
(``run <kind>``, in the trace of the request that started the run) are spans of
their own (`sessionhub.tracing`). The provider flushes its last spans when the app stops.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sessionhub import tracing
from sessionhub.config import Settings
from sessionhub.domain.errors import Invalid

INSTALL_HINT = "OpenTelemetry traces need the otel extra: pip install 'sessionhub[otel]'"


def tracer_provider(settings: Settings) -> Any | None:
    """The SDK's tracer provider exporting over OTLP/HTTP (None while tracing is off)."""
    if not settings.otel_traces:
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise Invalid(f"{INSTALL_HINT} ({exc.name} is missing)") from None
    resource = Resource.create()  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: "sessionhub"}))
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    tracing.turn_on()
    return provider


def traced(stack: ASGIApp, provider: Any | None) -> ASGIApp:
    """``stack`` inside OpenTelemetry's ASGI middleware (unchanged while tracing is off)."""
    if provider is None:
        return stack
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    return OpenTelemetryMiddleware(
        RouteName(stack), exclude_spans=["receive", "send"], tracer_provider=provider
    )


class RouteName:
    """Names the request's span after the route that serves it, as its answer starts
    (routing is done then, and the span not yet ended): ``POST /v1/sessions``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def named(message: Message) -> None:
            if message["type"] == "http.response.start":
                name_span(scope)
            await send(message)

        await self.app(scope, receive, named)


def name_span(scope: Scope) -> None:
    path = getattr(scope.get("route"), "path", None)
    if path is not None:
        route = scope.get("root_path", "") + path
        span = trace.get_current_span()
        span.update_name(f"{scope['method']} {route}")
        span.set_attribute("http.route", route)


def shutdown(provider: Any | None) -> None:
    """Export the spans still queued (at the app's shutdown)."""
    if provider is not None:
        provider.shutdown()
