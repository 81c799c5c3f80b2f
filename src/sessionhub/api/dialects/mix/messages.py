"""Mix messages: send (202, the agent turn runs in the background), list, global history."""

from __future__ import annotations

import re
from typing import Annotated

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
from sessionhub.domain.errors import RunActive
from sessionhub.kinds.agent import rules

router = APIRouter(prefix="/api")
HISTORY_LIMIT = 1000
INT64 = 2**63
DECIMAL = re.compile(r"[+-]?[0-9]{1,19}")  # longer cannot fit (nor reach int())


def go_int(text: str) -> int | None:
    """Go's ``strconv.Atoi``: a decimal that fits 64 bits, else None (Mix then uses the
    default), so an absurd offset is an empty page rather than a database error."""
    if not DECIMAL.fullmatch(text):
        return None
    value = int(text)
    return value if -INT64 <= value < INT64 else None


@router.post("/sessions/{session_id}/messages")
async def send_message(session_id: str, request: Request, caller: MixCaller) -> Response:
    body = validate.json_object(await json_body(request))
    turn = rules.run_input(body)
    await load_session(caller, session_id)
    try:
        await caller.service.start_run(caller.workspace_id, session_id, turn.model_dump())
    except RunActive:
        raise MixError(
            "the session is still processing a message; cancel it or wait", kind="bad_request"
        ) from None
    return json_response({"status": "processing", "sessionId": session_id}, 202)


@router.get("/sessions/{session_id}/messages")
async def list_messages(session_id: str, caller: MixCaller) -> Response:
    await load_session(caller, session_id)
    events = await caller.service.all_events(caller.workspace_id, session_id)
    return json_response(convert.messages(session_id, events))


@router.get("/messages/history")
async def history(
    caller: MixCaller,
    limit: Annotated[str, Query()] = "50",
    offset: Annotated[str, Query()] = "0",
) -> Response:
    """The user messages of every main session, newest first (Mix's global history):
    one bounded query (at most ``HISTORY_LIMIT`` rows), as Mix pages it by limit/offset."""
    count = go_int(limit)
    skip = go_int(offset)
    count = 50 if count is None or count <= 0 else count
    skip = 0 if skip is None or skip < 0 else skip
    events = await caller.service.user_messages(
        caller.workspace_id, KIND, limit=min(count, HISTORY_LIMIT), offset=skip
    )
    return json_response([convert.backend_message(e.session_id, e) for e in events])
