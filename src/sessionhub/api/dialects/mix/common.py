"""What every Mix route needs: the caller, the session the path names, JSON in and out."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from starlette.responses import Response

from sessionhub.api.deps import Caller, authenticate
from sessionhub.api.dialects.mix.errors import MixError
from sessionhub.core.hub import Hub
from sessionhub.domain.errors import NotFound
from sessionhub.domain.models import Session

KIND = "agent"


async def mix_caller(request: Request) -> Caller:
    hub: Hub = request.app.state.hub
    return Caller(hub, await authenticate(request, hub))


MixCaller = Annotated[Caller, Depends(mix_caller)]


async def load_session(caller: Caller, session_id: str) -> Session:
    """The caller's agent session, or Mix's 404 message."""
    try:
        session = await caller.service.get(caller.workspace_id, session_id)
    except NotFound:
        session = None
    if session is None or session.kind != KIND:
        raise NotFound(f"Session with ID '{session_id}' not found")
    return session


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise MixError("Invalid JSON: empty body", kind="bad_request")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MixError(f"Invalid JSON: {exc}", kind="bad_request") from None


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )
