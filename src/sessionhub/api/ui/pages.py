"""The UI's pages: sign-in, the session list, a session (with its live stream), export."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, StreamingResponse
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask

from sessionhub.api.ui import render as show
from sessionhub.api.ui.auth import (
    Viewer,
    forget,
    hub_of,
    posted,
    remember,
    same_origin,
    viewer,
)
from sessionhub.api.ui.views import HEADERS, UiRoute, error_page, fragment, render, see_other
from sessionhub.core import transfer
from sessionhub.domain.errors import Invalid, NotFound
from sessionhub.domain.models import Condition, Event, Session, SessionQuery, SessionStatus

router = APIRouter(route_class=UiRoute, include_in_schema=False)
PAGE = 25
MAX_EVENTS = 2000  # shown on a page; the export holds them all
CHILDREN = 50


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a UI path of this server, nothing else."""
    if target and target.startswith("/ui") and not target.startswith("/ui//"):
        return target
    return "/ui"


@router.get("/ui/signin")
async def signin_form(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, None, "signin.html", next=safe_next(next), error=None)


@router.post("/ui/signin")
async def signin(request: Request) -> Response:
    form = await request.form()
    key, target = str(form.get("key", "")).strip(), safe_next(str(form.get("next", "")))
    if not same_origin(request):
        return error_page(request, 403, "the sign-in form came from another site")
    hub = hub_of(request)
    if hub.settings.no_auth:
        return see_other(target)
    principal = await hub.principal_for(key) if key and len(key) <= 500 else None
    if principal is None:
        error = "That API key is not valid or has been revoked." if key else "Enter an API key."
        return render(request, None, "signin.html", 401, next=target, error=error)
    response = see_other(target)
    remember(request, response, key)
    return response


@router.post("/ui/signout")
async def signout(request: Request) -> Response:
    await posted(request)
    response = see_other("/ui/signin")
    forget(response)
    return response


def list_query(q: str, kind: str, status: str, cursor: str | None) -> SessionQuery:
    where = [Condition(fields=["title", "name", "id"], op="contains", values=[q])] if q else []
    return SessionQuery(
        kind=kind or None, status=SessionStatus(status) if status else None, where=where,
        limit=PAGE, cursor=cursor or None,
    )  # fmt: skip


async def children_of(who: Viewer, sessions: list[Session]) -> dict[str, list[Session]]:
    nested: dict[str, list[Session]] = {}
    for session in sessions:
        query = SessionQuery(parent_id=session.id, limit=CHILDREN)
        page = await who.service.list_sessions(who.workspace_id, query)
        if page.items:
            nested[session.id] = page.items
    return nested


@router.get("/ui")
async def session_list(
    request: Request,
    q: Annotated[str, Query(max_length=200)] = "",
    kind: Annotated[str, Query(max_length=40)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    who = await viewer(request)
    if status and status not in SessionStatus.__members__:
        raise Invalid(f"status must be one of {', '.join(SessionStatus.__members__)}")
    page = await who.service.list_sessions(who.workspace_id, list_query(q, kind, status, cursor))
    return render(
        request, who, "list.html", sessions=page.items, next_cursor=page.next_cursor,
        children=await children_of(who, page.items), q=q, kind=kind, status=status,
        kinds=who.service.drivers.kinds(), statuses=list(SessionStatus.__members__),
    )  # fmt: skip


async def lineage(who: Viewer, session: Session) -> tuple[Session | None, list[Session]]:
    """The session it was forked from (if still there) and the forks of it."""
    parent = None
    if session.forked_from:
        try:
            parent = await who.service.get(who.workspace_id, session.forked_from)
        except NotFound:  # deleted since: shown by its id alone
            parent = None
    query = SessionQuery(forked_from=session.id, include_children=True, limit=200)
    forks = await who.service.list_sessions(who.workspace_id, query)
    return parent, forks.items


async def session_view(who: Viewer, session_id: str) -> dict[str, Any]:
    """What the session page and its live fragment show."""
    session = await who.service.get(who.workspace_id, session_id)
    page = await who.service.events(who.workspace_id, session_id, after=0, limit=MAX_EVENTS)
    events = page.items
    spans = show.waterfall(events) if session.kind == "trace" else []
    shown = {span.event.id for span in spans}
    return {
        "session": session, "events": events, "truncated": page.next_cursor is not None,
        "items": [i for i in show.transcript(session, events) if i.event.id not in shown],
        "spans": spans,
        "lease": show.lease(session) if session.kind == "machine" else [],
        "last_seq": events[-1].seq if events else 0, "who": who,
    }  # fmt: skip


@router.get("/ui/sessions/{session_id}")
async def session_page(request: Request, session_id: str) -> Response:
    who = await viewer(request)
    view = await session_view(who, session_id)
    session = view["session"]
    files = await who.service.list_files(who.workspace_id, session_id)
    forked_from, forks = await lineage(who, session)
    subagents = await children_of(who, [session])
    return render(
        request, who, "session.html", files=files, forked_from=forked_from, forks=forks,
        children=subagents.get(session.id, []), **{k: v for k, v in view.items() if k != "who"},
    )  # fmt: skip


@router.get("/ui/sessions/{session_id}/live-fragment")
async def live_fragment(request: Request, session_id: str) -> Response:
    who = await viewer(request)
    body = fragment("live.html", **await session_view(who, session_id))
    return HTMLResponse(body, headers=HEADERS)


def start_after(last_event_id: str | None, since: int) -> int:
    if last_event_id is None:
        return since
    try:
        return max(0, int(last_event_id))
    except ValueError:
        raise Invalid("Last-Event-ID must be an event seq this stream sent") from None


async def frames(who: Viewer, session_id: str, after: int) -> AsyncIterator[ServerSentEvent]:
    followed = who.service.follow(who.workspace_id, session_id, after=after)
    try:
        async with aclosing(followed) as items:
            async for item in items:
                if isinstance(item, Event):
                    yield ServerSentEvent(data=item.type, event="change", id=str(item.seq))
    except NotFound:  # deleted while open: say so, and the page stops listening
        yield ServerSentEvent(data="deleted", event="gone")


@router.get("/ui/sessions/{session_id}/live")
async def live(
    request: Request,
    session_id: str,
    since: Annotated[int, Query(ge=0)] = 0,
    last_event_id: Annotated[str | None, Header(max_length=40)] = None,
) -> Any:
    """The session's changes as SSE (one ``change`` per event, its seq as the id, so a
    reconnect resumes after the last one seen); the page then fetches its fragment."""
    who = await viewer(request)
    await who.service.get(who.workspace_id, session_id)
    after = start_after(last_event_id, since)
    return EventSourceResponse(
        frames(who, session_id, after), ping=who.hub.settings.heartbeat_interval,
        headers={"Cache-Control": "no-store"},
    )  # fmt: skip


@router.get("/ui/sessions/{session_id}/export.json")
async def export_json(request: Request, session_id: str) -> Response:
    who = await viewer(request)
    await who.service.get(who.workspace_id, session_id)
    body = transfer.export_json(who.service, who.workspace_id, session_id, include_files=False)
    disposition = f'attachment; filename="{session_id}.json"'
    return StreamingResponse(
        body, media_type="application/json", headers={"Content-Disposition": disposition}
    )


@router.get("/ui/sessions/{session_id}/export.tar.gz")
async def export_tar(request: Request, session_id: str) -> Response:
    who = await viewer(request)
    path = await transfer.export_tar(who.service, who.workspace_id, session_id)
    return FileResponse(
        path, media_type="application/gzip", filename=f"{session_id}.tar.gz",
        background=BackgroundTask(path.unlink, missing_ok=True),
    )  # fmt: skip


@router.get("/ui/sessions/{session_id}/files/{path:path}")
async def download_file(request: Request, session_id: str, path: str) -> Response:
    """A session file, always as a download: a tenant's file never renders as a page of
    this origin (octet-stream, ``nosniff``, attachment, a sandboxing CSP)."""
    who = await viewer(request)
    opened = await who.service.open_file(who.workspace_id, session_id, path)
    return FileResponse(
        opened.serve_path, media_type="application/octet-stream", filename=opened.name,
        headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"},
        background=BackgroundTask(opened.close),
    )  # fmt: skip
