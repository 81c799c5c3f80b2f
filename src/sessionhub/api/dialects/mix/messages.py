"""Mix messages: send (202, the agent turn runs in the background), list, global history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from sessionhub.api.dialects.mix import convert, validate
from sessionhub.api.dialects.mix.common import (
    KIND,
    MixCaller,
    all_events,
    json_body,
    json_response,
    load_session,
)
from sessionhub.api.dialects.mix.errors import MixError
from sessionhub.core.errors import RunActive
from sessionhub.core.models import SessionQuery

router = APIRouter(prefix="/api")


@router.post("/sessions/{session_id}/messages")
async def send_message(session_id: str, request: Request, caller: MixCaller) -> Response:
    body = validate.json_object(await json_body(request))
    run_input = validate.send_input(body)
    await load_session(caller, session_id)
    try:
        await caller.service.start_run(caller.workspace_id, session_id, run_input)
    except RunActive:
        raise MixError(
            "the session is still processing a message; cancel it or wait", kind="bad_request"
        ) from None
    return json_response({"status": "processing", "sessionId": session_id}, 202)


@router.get("/sessions/{session_id}/messages")
async def list_messages(session_id: str, caller: MixCaller) -> Response:
    await load_session(caller, session_id)
    events = await all_events(caller.service, caller.workspace_id, session_id)
    return json_response(convert.messages(session_id, events))


@router.get("/messages/history")
async def history(
    caller: MixCaller,
    limit: Annotated[str, Query()] = "50",
    offset: Annotated[str, Query()] = "0",
) -> Response:
    """The user messages of every main session, newest first (Mix's global history)."""
    count = int(limit) if limit.lstrip("-").isdigit() and int(limit) > 0 else 50
    skip = max(0, int(offset)) if offset.lstrip("-").isdigit() else 0
    found: list[dict[str, Any]] = []
    query = SessionQuery(kind=KIND, limit=200)
    while True:
        page = await caller.service.list_sessions(caller.workspace_id, query)
        for session in page.items:
            events = await all_events(caller.service, caller.workspace_id, session.id)
            found.extend(m for m in convert.messages(session.id, events) if m["role"] == "user")
        if page.next_cursor is None:
            break
        query = query.model_copy(update={"cursor": page.next_cursor})
    found.sort(key=lambda m: m["createdAt"], reverse=True)
    return json_response(found[skip : skip + count])
