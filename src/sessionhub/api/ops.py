"""Health, readiness and Prometheus metrics."""

from __future__ import annotations

import os

from fastapi import APIRouter, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from sessionhub.api.deps import HubDep
from sessionhub.api.problems import problem

router = APIRouter(tags=["ops"])

REQUESTS = Counter("sessionhub_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "sessionhub_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
)
# read from the database, the same in every process: the most recent of the live ones
SESSIONS = Gauge("sessionhub_sessions", "Sessions stored", multiprocess_mode="livemostrecent")
EVENTS = Counter("sessionhub_events_appended_total", "Events appended by this process")
ACTIVE_RUNS = Gauge(
    "sessionhub_active_runs", "Runs in progress (all processes)", multiprocess_mode="livemostrecent"
)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "not ready"}})
async def readyz(hub: HubDep) -> Response:
    ok, reason = await hub.service.ready()
    if not ok:
        return problem(503, "Service Unavailable", reason)
    return Response('{"status":"ready"}', media_type="application/json")


@router.get("/metrics", response_class=Response)
async def metrics(hub: HubDep) -> Response:
    stats = await hub.service.stats()
    SESSIONS.set(stats["sessions"])
    ACTIVE_RUNS.set(stats["active_runs"])
    return Response(generate_latest(metrics_registry()), media_type=CONTENT_TYPE_LATEST)


def metrics_registry() -> CollectorRegistry:
    """Under ``--workers N`` every worker writes its metrics to files in
    ``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode, set up by
    ``sessionhub.serving``); any worker's /metrics merges them all. Otherwise: this
    process's own."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry
