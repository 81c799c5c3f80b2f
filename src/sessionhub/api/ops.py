"""Health, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

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
SESSIONS = Gauge("sessionhub_sessions", "Sessions stored")
EVENTS = Counter("sessionhub_events_appended_total", "Events appended by this process")
ACTIVE_RUNS = Gauge("sessionhub_active_runs", "Runs in progress (all processes)")


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
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
