"""The threads API, ``/v2/sessions`` (orq-ai-sdk 4.15+, @orq-ai/node 4.15)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import Field

from sessionhub.api.dialects.orq.common import OrqDep, paging
from sessionhub.api.dialects.orq.wire import (
    OUT_KINDS,
    Billing,
    Count,
    ExternalId,
    Tags,
    Text,
    ThreadFields,
    ThreadKind,
    Usage,
    Wire,
    thread_body,
)  # fmt: skip
from sessionhub.domain.errors import Invalid
from sessionhub.domain.models import Condition
from sessionhub.kinds.trace.rules import Thread, ThreadFilter, ThreadSpec

router = APIRouter(prefix="/v2/sessions")
INTERVALS = {
    "SESSION_INTERVAL_UNSPECIFIED": None, "SESSION_INTERVAL_ALL_TIME": None,
    "SESSION_INTERVAL_LAST_30_MINUTES": timedelta(minutes=30),
    "SESSION_INTERVAL_LAST_1_HOUR": timedelta(hours=1),
    "SESSION_INTERVAL_LAST_6_HOURS": timedelta(hours=6),
    "SESSION_INTERVAL_LAST_24_HOURS": timedelta(hours=24),
    "SESSION_INTERVAL_LAST_3_DAYS": timedelta(days=3),
    "SESSION_INTERVAL_LAST_7_DAYS": timedelta(days=7),
    "SESSION_INTERVAL_LAST_14_DAYS": timedelta(days=14),
    "SESSION_INTERVAL_LAST_1_MONTH": timedelta(days=30),
    "SESSION_INTERVAL_LAST_3_MONTHS": timedelta(days=90),
}  # fmt: skip


class ThreadWrite(ThreadFields):
    title: Text | None = None
    client: Text | None = None
    repo: Text | None = None
    kind: ThreadKind | None = None

    def thread_spec(self) -> ThreadSpec:
        spec = self.spec()
        spec.title = self.title
        for key in ("client", "repo"):
            if (value := getattr(self, key)) is not None:
                spec.texts[key] = value
        if self.kind is not None:
            spec.texts["thread_kind"] = (
                None if self.kind == "THREAD_KIND_UNSPECIFIED" else self.kind
            )
        return spec


class ThreadCreate(ThreadWrite):
    external_id: ExternalId
    duration: float = Field(ge=0, allow_inf_nan=False)
    contact_ids: Tags
    billing: Billing
    usage: Usage
    traces_count: Count
    tags: Tags


class ThreadUpdate(ThreadWrite):
    clear_contact_ids: bool = False
    clear_tags: bool = False

    def thread_spec(self) -> ThreadSpec:
        for flag, key in (("clear_tags", "tags"), ("clear_contact_ids", "contact_ids")):
            if getattr(self, flag) and getattr(self, key):
                raise Invalid(f"{flag} and a non-empty {key} are mutually exclusive")
        spec = super().thread_spec()
        if self.clear_tags:
            spec.lists["tags"] = []
        if self.clear_contact_ids:
            spec.lists["contact_ids"] = []
        return spec


class Filters(Wire):
    interval: str
    project_id: str | None = None
    tags: list[str] | None = None
    start_date: str | None = None
    end_date: str | None = None
    client: str | None = None
    repo: str | None = None
    kind: ThreadKind | None = None


class ListRequest(Wire):
    filters: Filters
    limit: float | None = None
    page: float | None = None


def _millis(value: str | None, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise Invalid(f"filters.{name} must be unix milliseconds") from None


def _filter(f: Filters) -> ThreadFilter:
    flt = ThreadFilter()
    if f.interval not in INTERVALS:
        raise Invalid(f"filters.interval must be one of {', '.join(INTERVALS)}")
    window = INTERVALS[f.interval]
    starts = [d for d in (_millis(f.start_date, "start_date"),) if d]
    if window is not None:
        starts.append(datetime.now(UTC) - window)
    flt.active_after = max(starts) if starts else None
    flt.active_before = _millis(f.end_date, "end_date")
    for key, attr in (("project_id", "project_id"), ("client", "client"), ("repo", "repo")):
        if (value := getattr(f, key)) is not None:
            flt.conditions.append(Condition(fields=[f"attributes.{attr}"], op="eq", values=[value]))
    if f.kind is not None and f.kind != "THREAD_KIND_UNSPECIFIED":
        flt.conditions.append(
            Condition(fields=["attributes.thread_kind"], op="eq", values=[f.kind])
        )
    if f.tags:
        flt.conditions.append(Condition(fields=["attributes.tags"], op="any", values=f.tags))
    return flt


def body(thread: Thread) -> dict[str, Any]:
    out = thread_body(thread)
    for key in ("client", "repo"):
        if key in thread.texts:
            out[key] = thread.texts[key]
    if thread.session.title is not None:
        out["title"] = thread.session.title
    if thread.texts.get("thread_kind") in OUT_KINDS:
        out["kind"] = thread.texts["thread_kind"]
    return out


@router.post("")
async def create(orq: OrqDep, request: ThreadCreate) -> JSONResponse:
    thread = await orq.traces.create(orq.workspace_id, request.thread_spec())
    return JSONResponse(body(thread))


@router.post("/query")
async def query(orq: OrqDep, request: ListRequest) -> JSONResponse:
    limit, offset = paging(request.page, request.limit)
    threads, more = await orq.traces.page(
        orq.workspace_id, _filter(request.filters), limit=limit, offset=offset
    )
    return JSONResponse({"object": "list", "data": [body(t) for t in threads], "has_more": more})


@router.post("/count")
async def count(orq: OrqDep, request: ListRequest) -> JSONResponse:
    return JSONResponse(
        {"count": await orq.traces.count(orq.workspace_id, _filter(request.filters))}
    )


@router.get("/tags")
async def tags(orq: OrqDep) -> JSONResponse:
    return JSONResponse(await orq.traces.tags(orq.workspace_id))


@router.get("/{session_id:path}")
async def get(orq: OrqDep, session_id: str) -> JSONResponse:
    return JSONResponse(body(await orq.traces.get(orq.workspace_id, session_id)))


@router.patch("/{session_id:path}")
async def update(orq: OrqDep, session_id: str, request: ThreadUpdate) -> JSONResponse:
    thread = await orq.traces.update(orq.workspace_id, session_id, request.thread_spec())
    return JSONResponse(body(thread))


@router.delete("/{session_id:path}", status_code=204)
async def delete(orq: OrqDep, session_id: str) -> Response:
    await orq.traces.delete(orq.workspace_id, session_id)
    return Response(status_code=204)
