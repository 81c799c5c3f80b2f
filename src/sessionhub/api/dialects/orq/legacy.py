"""The legacy trace-session API, ``/v2/traces/sessions`` (orq-ai-sdk 3.4.0)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Response
from fastapi.responses import JSONResponse
from pydantic import Field

from sessionhub.api.dialects.orq.common import OrqDep, paging
from sessionhub.api.dialects.orq.wire import ThreadFields, Wire, thread_body
from sessionhub.domain.errors import Invalid
from sessionhub.domain.models import Condition
from sessionhub.kinds.trace.rules import Thread, ThreadFilter

router = APIRouter(prefix="/v2/traces/sessions")
PATHS = {
    "_id": "id", "id": "id", "external_id": "name", "title": "title",
    "tags": "attributes.tags", "contact_ids": "attributes.contact_ids",
    "project_id": "attributes.project_id",
}  # fmt: skip
SORTS: dict[str, Literal["created_at", "updated_at", "name"]] = {"created_at": "created_at", "started_at": "created_at", "updated_at": "updated_at",
         "external_id": "name", "_id": "created_at"}  # fmt: skip


def legacy_body(thread: Thread, workspace_id: str) -> dict[str, Any]:
    return {**thread_body(thread), "workspace_id": workspace_id}


class Pagination(Wire):
    page: float | None = None
    limit: float | None = 50
    last_id: str | None = Field(default=None, alias="lastId")
    first_id: str | None = Field(default=None, alias="firstId")


class Sorting(Wire):
    key: str
    direction: Literal["asc", "desc"] = "desc"


class Query(Wire):
    operator: Literal["and", "or"] = "and"
    search: str | None = None
    filters: list[dict[str, Any]] | None = None


class ListBody(Wire):
    filters: list[dict[str, Any]] = Field(default_factory=list)
    pagination: Pagination | None = None
    sorting_props: list[Sorting] | None = Field(default=None, alias="sortingProps")
    query: Query | None = None


def _field(path: Any) -> str:
    if not isinstance(path, str) or path.lstrip(".") not in PATHS:
        raise Invalid(f"cannot filter on path {path!r}; known: {', '.join(sorted(PATHS))}")
    return PATHS[path.lstrip(".")]


def _condition(f: dict[str, Any]) -> Condition:
    kind = f.get("type")
    if kind == "id":
        return Condition(fields=["id", "name"], op="eq", values=[str(f.get("id", ""))])
    if kind == "search":
        paths = f.get("searchPaths") or ["external_id", "_id"]
        return Condition(
            fields=[_field(p) for p in paths], op="contains", values=[str(f.get("value", ""))]
        )
    if kind == "string" and f.get("operator") in ("contains", "equals"):
        op = "contains" if f["operator"] == "contains" else "eq"
        field = _field(f.get("path"))
        if field.startswith("attributes.") and field[11:] in ("tags", "contact_ids"):
            if op == "eq":
                return Condition(fields=[field], op="any", values=[str(f.get("value", ""))])
            raise Invalid(
                f"'contains' does not apply to the list {f.get('path')!r}; use string_array"
            )
        return Condition(fields=[field], op=op, values=[str(f.get("value", ""))])
    if kind == "string_array" and f.get("operator") == "in":
        values = [str(v) for v in f.get("values") or []]
        if not values:
            raise Invalid("a string_array filter needs values")
        field = _field(f.get("path"))
        op = "any" if field in ("attributes.tags", "attributes.contact_ids") else "eq"
        return Condition(fields=[field], op=op, values=values)
    raise Invalid(f"unsupported filter {f!r}")


def _filter(body: ListBody) -> ThreadFilter:
    flt = ThreadFilter(conditions=[_condition(f) for f in body.filters])
    if body.query is not None:
        if body.query.filters:
            raise Invalid("query.filters (dashboard filters) are not supported; use filters")
        if body.query.search:
            flt.conditions.append(
                Condition(fields=["name", "title", "id"], op="contains", values=[body.query.search])
            )
    if body.sorting_props:
        sort = body.sorting_props[0]
        if sort.key not in SORTS:
            raise Invalid(f"cannot sort by {sort.key!r}; known: {', '.join(sorted(SORTS))}")
        flt.order_by = SORTS[sort.key]
        flt.descending = sort.direction == "desc"
    return flt


@router.post("")
async def create(orq: OrqDep, body: Annotated[ThreadFields | None, Body()] = None) -> JSONResponse:
    spec = (body or ThreadFields()).spec()
    thread = await orq.traces.create(orq.workspace_id, spec)
    return JSONResponse(legacy_body(thread, orq.workspace_id))


@router.post("/query")
async def query(orq: OrqDep, body: Annotated[ListBody | None, Body()] = None) -> JSONResponse:
    body = body or ListBody()
    pages = body.pagination or Pagination()
    limit, offset = paging(pages.page, pages.limit)
    flt = _filter(body)
    threads, more = await _page(orq, flt, pages, limit, offset)
    data = [legacy_body(t, orq.workspace_id) for t in threads]
    return JSONResponse({"object": "list", "data": data, "has_more": more})


async def _page(
    orq: OrqDep, flt: ThreadFilter, pages: Pagination, limit: int, offset: int
) -> tuple[list[Thread], bool]:
    ref = pages.last_id or pages.first_id
    if ref is None:
        return await orq.traces.page(orq.workspace_id, flt, limit=limit, offset=offset)
    if flt.order_by != "created_at":
        raise Invalid("lastId/firstId page only the creation order")
    at = await orq.traces.boundary(orq.workspace_id, ref)
    forward = pages.last_id is not None
    # lastId: the next page in the current order; firstId: the page before, read backwards
    newer = forward != flt.descending
    flt.descending = flt.descending if forward else not flt.descending
    threads, more = await orq.traces.list_around(
        orq.workspace_id, flt, at, newer=newer, limit=limit
    )
    return (threads if forward else list(reversed(threads))), more


@router.get("/{session_id:path}")
async def get(orq: OrqDep, session_id: str) -> JSONResponse:
    thread = await orq.traces.get(orq.workspace_id, session_id)
    return JSONResponse(legacy_body(thread, orq.workspace_id))


@router.patch("/{session_id:path}")
async def update(
    orq: OrqDep, session_id: str, body: Annotated[ThreadFields | None, Body()] = None
) -> JSONResponse:
    spec = (body or ThreadFields()).spec()
    thread = await orq.traces.update(orq.workspace_id, session_id, spec)
    return JSONResponse(legacy_body(thread, orq.workspace_id))


@router.delete("/{session_id:path}", status_code=204)
async def delete(orq: OrqDep, session_id: str) -> Response:
    await orq.traces.delete(orq.workspace_id, session_id)
    return Response(status_code=204)
