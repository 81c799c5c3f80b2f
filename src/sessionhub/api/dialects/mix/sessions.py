"""Mix sessions: create, list, get, delete, callbacks, export, rewind, fork, cancel."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from sessionhub.api.dialects.mix import convert, validate
from sessionhub.api.dialects.mix.common import (
    KIND,
    MixCaller,
    json_body,
    json_response,
    load_session,
)
from sessionhub.api.dialects.mix.errors import MixError
from sessionhub.domain.models import SessionCreate, SessionQuery
from sessionhub.kinds.agent.rules import AgentSessions, bool_field, text_field

router = APIRouter(prefix="/api/sessions")


@router.get("")
async def list_sessions(
    caller: MixCaller, include_subagents: Annotated[str, Query(alias="includeSubagents")] = "false"
) -> Response:
    query = SessionQuery(kind=KIND, include_children=include_subagents == "true", limit=200)
    found: list[dict[str, Any]] = []
    while True:
        page = await caller.service.list_sessions(caller.workspace_id, query)
        found.extend(convert.session_data(s) for s in page.items)
        if page.next_cursor is None:
            return json_response(found)
        query = query.model_copy(update={"cursor": page.next_cursor})


@router.post("")
async def create_session(request: Request, caller: MixCaller) -> Response:
    body = validate.json_object(await json_body(request))
    title, attributes = validate.create_attributes(body)
    spec = SessionCreate(kind=KIND, title=title, attributes=attributes.stored())
    created = await caller.service.create(caller.workspace_id, spec)
    return json_response(convert.session_data(created.session), 201)


@router.get("/{session_id}")
async def get_session(session_id: str, caller: MixCaller) -> Response:
    return json_response(convert.session_data(await load_session(caller, session_id)))


@router.delete("/{session_id}")
async def delete_session(session_id: str, caller: MixCaller) -> Response:
    await load_session(caller, session_id)
    await caller.service.delete(caller.workspace_id, session_id)
    return Response(status_code=204)


@router.patch("/{session_id}/callbacks")
async def update_callbacks(session_id: str, request: Request, caller: MixCaller) -> Response:
    body = validate.json_object(await json_body(request))
    await load_session(caller, session_id)
    callbacks = validate.callbacks_update(body)
    session = await caller.service.set_attributes(
        caller.workspace_id, session_id, {"callbacks": callbacks}
    )
    return json_response(convert.session_data(session))


@router.get("/{session_id}/export")
async def export_session(session_id: str, caller: MixCaller) -> Response:
    session = await load_session(caller, session_id)
    events = await caller.service.all_events(caller.workspace_id, session_id)
    disposition = f"attachment; filename=session_{session_id}_transcript.json"
    return json_response(
        convert.export(session, events), headers={"Content-Disposition": disposition}
    )


@router.post("/{session_id}/cancel")
async def cancel_processing(session_id: str, caller: MixCaller) -> Response:
    await load_session(caller, session_id)
    result = await caller.service.cancel(caller.workspace_id, session_id)
    body = {"cancelled": result.cancelled, "status": "cancelled", "sessionId": session_id}
    return json_response(body)


@router.post("/{session_id}/rewind")
async def rewind_session(session_id: str, request: Request, caller: MixCaller) -> Response:
    body = validate.json_object(await json_body(request))
    message_id = text_field(body, "messageId")
    if not message_id:
        raise MixError("message ID is required")
    cleanup = bool_field(body, "cleanupMedia", True)
    session = await load_session(caller, session_id)
    sessions = AgentSessions(caller.service)
    session = await sessions.rewind_to_message(
        caller.workspace_id, session, message_id, cleanup_media=cleanup
    )
    return json_response(convert.session_data(session))


@router.post("/{session_id}/fork")
async def fork_session(session_id: str, request: Request, caller: MixCaller) -> Response:
    """The older TypeScript SDK's fork: keep messages 0..messageIndex (the last one included)."""
    body = validate.json_object(await json_body(request))
    index = validate.message_index(body)
    title = text_field(body, "title") or "Forked Session"
    source = await load_session(caller, session_id)
    fork = await AgentSessions(caller.service).fork_at_message(
        caller.workspace_id, source, index, title
    )
    return json_response(convert.session_data(fork), 201)
