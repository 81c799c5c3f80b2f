"""The session page's buttons: fork, rewind, cancel, delete (each a plain form POST).

Rewind and delete ask first: without script their link opens a confirmation page
whose form does it; with script the page asks in a dialog and posts the same form.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request, Response

from sessionhub.api.ui.auth import posted, viewer
from sessionhub.api.ui.views import UiRoute, render, see_other
from sessionhub.domain.models import ForkRequest, RewindRequest

router = APIRouter(prefix="/ui/sessions/{session_id}", route_class=UiRoute, include_in_schema=False)


def page_of(session_id: str, note: str | None = None) -> str:
    url = f"/ui/sessions/{quote(session_id, safe='')}"
    return url + (f"?note={quote(note, safe='')}" if note else "")


@router.post("/fork")
async def fork(request: Request, session_id: str) -> Response:
    who, form = await posted(request)
    at = form.get("at_event_id") or None
    made = await who.service.fork(who.workspace_id, session_id, ForkRequest(at_event_id=at))
    return see_other(page_of(made.id, "Forked"))


@router.get("/rewind")
async def confirm_rewind(request: Request, session_id: str, to: str) -> Response:
    who = await viewer(request)
    session = await who.service.get(who.workspace_id, session_id)
    event = await who.service.event(who.workspace_id, session_id, to)
    return render(request, who, "confirm.html", session=session, action="rewind", event=event)


@router.post("/rewind")
async def rewind(request: Request, session_id: str) -> Response:
    who, form = await posted(request)
    done = await who.service.rewind(
        who.workspace_id, session_id, RewindRequest(to_event_id=form.get("to_event_id", ""))
    )
    return see_other(page_of(session_id, f"Rewound: {done.deleted_events} events removed"))


@router.post("/cancel")
async def cancel(request: Request, session_id: str) -> Response:
    who, _ = await posted(request)
    done = await who.service.cancel(who.workspace_id, session_id)
    return see_other(page_of(session_id, "Cancelled" if done.cancelled else "No run to cancel"))


@router.get("/delete")
async def confirm_delete(request: Request, session_id: str) -> Response:
    who = await viewer(request)
    session = await who.service.get(who.workspace_id, session_id)
    return render(request, who, "confirm.html", session=session, action="delete", event=None)


@router.post("/delete")
async def delete(request: Request, session_id: str) -> Response:
    who, _ = await posted(request)
    await who.service.delete(who.workspace_id, session_id)
    return see_other("/ui?note=" + quote(f"Deleted {session_id}", safe=""))
