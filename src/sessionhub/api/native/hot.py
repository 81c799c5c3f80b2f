"""The hottest routes as plain Starlette routes in front of their FastAPI twins.

An append or a session read does less work than FastAPI's per-request dependency
solving and response handling around it (ARCHITECTURE §3: ~8k appends/s behind a
Starlette handler vs ~3.8k behind FastAPI routing). These handlers do exactly what
the FastAPI routes of the same paths do — same auth, body model, service call,
errors and JSON — and are matched first; the FastAPI routes stay for the OpenAPI
document and are tested to agree.

They are matched in front of the whole application, not inside its router: a hot
request passes only our own middleware (request id, access log, metrics, body limit)
and maps its errors itself, as the app's exception handlers would, so it skips
FastAPI's error, telemetry and exit-stack layers (~10% of an append's CPU).
"""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from sessionhub.api import problems
from sessionhub.api.body import json_response, read_model
from sessionhub.api.deps import authenticate
from sessionhub.api.middleware import BodyLimit, RequestContext
from sessionhub.api.ops import EVENTS
from sessionhub.config import Settings
from sessionhub.core.hub import Hub
from sessionhub.domain.errors import SessionHubError
from sessionhub.domain.models import EventAppend


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


ROUTES = [
    HotRoute("/v1/sessions/{session_id}/events", append_event, methods=["POST"]),
    HotRoute("/v1/sessions/{session_id}", get_session, methods=["GET"]),
]


async def answer(request: Request, handler: Any) -> Response:
    """The handler's response, or its error mapped as the app's handlers map it."""
    try:
        response: Response = await handler(request)
    except SessionHubError as exc:
        return await problems.domain_error(request, exc)
    except RequestValidationError as exc:
        return await problems.validation_error(request, exc)
    except HTTPException as exc:
        return await problems.http_error(request, exc)
    except Exception as exc:
        return await problems.unhandled(request, exc)
    return response


class HotFront:
    """Send hot requests down a lean path; everything else to the full application."""

    def __init__(self, app: Any, full: ASGIApp, settings: Settings) -> None:
        self.app, self.full = app, full
        self.lean = RequestContext(BodyLimit(self._dispatch, settings))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route in ROUTES:
                match, child = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child)
                    scope["app"] = self.app
                    await self.lean(scope, receive, send)
                    return
        await self.full(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await answer(request, scope["route"].endpoint)
        await response(scope, receive, send)


def install(app: Any, settings: Settings) -> None:
    build = app.build_middleware_stack

    def build_with_front() -> ASGIApp:
        return HotFront(app, build(), settings)

    app.build_middleware_stack = build_with_front
