"""The hottest routes as plain Starlette routes in front of their FastAPI twins.

An append or a session read does less work than FastAPI's per-request dependency
solving and response handling around it (ARCHITECTURE §3: ~8k appends/s behind a
Starlette handler vs ~3.8k behind FastAPI routing). These handlers do exactly what
the FastAPI routes of the same paths do — same auth, body model, service call,
errors and JSON — and are matched first; the FastAPI routes stay for the OpenAPI
document and are tested to agree.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Scope

from sessionhub.api.body import json_response, read_model
from sessionhub.api.deps import authenticate
from sessionhub.api.hub import Hub
from sessionhub.api.ops import EVENTS
from sessionhub.core.models import EventAppend


class HotRoute(Route):
    """A Starlette route that names itself in the scope, as FastAPI's do (for metrics)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is not Match.NONE:
            child["route"] = self
        return match, child


async def append_event(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    principal = await authenticate(request, hub)
    body = await read_model(request, EventAppend)
    created = await hub.service.append(
        principal.workspace_id,
        request.path_params["session_id"],
        [body],
        expected_seq=body.expected_seq,
    )
    EVENTS.inc()
    return json_response(created[0], 201)


async def get_session(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    principal = await authenticate(request, hub)
    session = await hub.service.get(principal.workspace_id, request.path_params["session_id"])
    return json_response(session, 200, ETag=f'"{session.version}"')


def install(app: Any) -> None:
    routes = [
        HotRoute("/v1/sessions/{session_id}/events", append_event, methods=["POST"]),
        HotRoute("/v1/sessions/{session_id}", get_session, methods=["GET"]),
    ]
    app.router.routes[0:0] = routes
