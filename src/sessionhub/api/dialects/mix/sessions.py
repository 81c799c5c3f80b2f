"""Mix sessions: create, list, get, delete, callbacks, export, rewind, fork, cancel."""

from __future__ import annotations

import contextlib
from datetime import datetime
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
from sessionhub.api.dialects.mix.errors import MixError, field_error
from sessionhub.domain.errors import NotFound
from sessionhub.domain.models import (
    Event,
    ForkRequest,
    RewindRequest,
    Session,
    SessionCreate,
    SessionQuery,
)
from sessionhub.kinds.agent import transcript

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
    spec = SessionCreate(kind=KIND, title=title, attributes=attributes)
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
    if "callbacks" not in body:
        raise field_error("callbacks", "callbacks is required")
    callbacks = validate.callbacks(body["callbacks"])
    session = await caller.service.set_attributes(
        caller.workspace_id, session_id, {"callbacks": callbacks}
    )
    return json_response(convert.session_data(session))


@router.get("/{session_id}/export")
async def export_session(session_id: str, caller: MixCaller) -> Response:
    session = await load_session(caller, session_id)
    events = await all_events(caller.service, caller.workspace_id, session_id)
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
    message_id = validate.text_field(body, "messageId")
    if not message_id:
        raise MixError("message ID is required")
    cleanup = validate.bool_field(body, "cleanupMedia", True)
    session = await load_session(caller, session_id)
    events = await all_events(caller.service, caller.workspace_id, session_id)
    kept = message_position(events, message_id)
    cut = cut_after(events, kept)
    if cut is not None:
        first_deleted = events[next(i for i, e in enumerate(events) if e.id == cut) + 1]
        rewound = await caller.service.rewind(
            caller.workspace_id, session_id, RewindRequest(to_event_id=cut)
        )
        session = rewound.session
        if cleanup:
            await cleanup_media(caller, session_id, first_deleted.created_at)
    return json_response(convert.session_data(session))


async def cleanup_media(caller: MixCaller, session_id: str, cutoff: datetime) -> None:
    """Mix's ``cleanupMedia``: the files at the top of the session directory modified after
    the first deleted message go; subdirectories are left alone (as Mix's Go server)."""
    for info in await caller.service.list_files(caller.workspace_id, session_id):
        if "/" not in info.path and info.modified_at > cutoff:
            with contextlib.suppress(NotFound):  # already gone
                await caller.service.delete_file(caller.workspace_id, session_id, info.path)


def message_events(events: list[Event]) -> list[int]:
    return [i for i, e in enumerate(events) if e.type == transcript.MESSAGE and e.role is not None]


def message_position(events: list[Event], message_id: str) -> int:
    for i in message_events(events):
        if events[i].payload.get("id") == message_id:
            return i
    raise NotFound(f"Message with ID '{message_id}' not found")


def cut_after(events: list[Event], kept: int) -> str | None:
    """The last event to keep: everything before the next message (its tool results stay)."""
    following = [i for i in message_events(events) if i > kept]
    if not following:
        return None
    return events[following[0] - 1].id


@router.post("/{session_id}/fork")
async def fork_session(session_id: str, request: Request, caller: MixCaller) -> Response:
    """The older TypeScript SDK's fork: keep messages 0..messageIndex (the last one included)."""
    body = validate.json_object(await json_body(request))
    index = body.get("messageIndex", 0)
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise field_error("messageIndex", "must be a non-negative integer")
    title = validate.text_field(body, "title") or "Forked Session"
    source = await load_session(caller, session_id)
    if source.attributes.get("sessionType") == "subagent":
        raise MixError("cannot fork a subagent session", kind="bad_request")
    events = await all_events(caller.service, caller.workspace_id, session_id)
    positions = message_events(events)
    if index >= len(positions):
        raise field_error(
            "messageIndex", f"out of range: the session has {len(positions)} messages"
        )
    cut = cut_after(events, positions[index]) or events[-1].id
    fork = await caller.service.fork(
        caller.workspace_id, session_id, ForkRequest(at_event_id=cut, title=title)
    )
    fork = await reset_fork(caller, fork)
    return json_response(convert.session_data(fork), 201)


async def reset_fork(caller: MixCaller, fork: Session) -> Session:
    """A fork is a main session with the default prompt (as Mix's own fork)."""
    attributes = {"sessionType": "main", "promptMode": "default", "customSystemPrompt": ""}
    return await caller.service.set_attributes(caller.workspace_id, fork.id, attributes)
