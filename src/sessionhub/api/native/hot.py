"""Hot operations: one endpoint each, served by a lean path in front of the app.

An append or a session read does less work than FastAPI's per-request dependency
solving and response handling around it (ARCHITECTURE §3: ~8k appends/s behind a
Starlette handler vs ~3.8k behind FastAPI routing). So a hot operation is one
endpoint function, ``endpoint(request, **path_params)``, declared once with
`hot_route` in its module's router: FastAPI serves it there (the OpenAPI document
lists it, and it answers when ``settings.hot_routes`` is off), and `HotFront`
matches the same route in front of the whole application and calls the same
function.

A hot request passes only our own middleware (request id, access log, metrics,
body limit) and has its errors answered by the app's own exception handlers,
looked up as Starlette looks them up; it skips FastAPI's error, telemetry and
exit-stack layers (~10% of an append's CPU) and its dependency solving.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from sessionhub.api import problems
from sessionhub.api.middleware import BodyLimit, RequestContext, request_ids
from sessionhub.config import Settings

Endpoint = TypeVar("Endpoint", bound=Callable[..., Awaitable[Response]])


class HotRoute(APIRoute):
    """A FastAPI route whose endpoint the lean path also serves."""


def hot_route(
    router: APIRouter, path: str, *, methods: list[str], **options: Any
) -> Callable[[Endpoint], Endpoint]:
    """Declare a hot operation: ``router.add_api_route`` as a `HotRoute`.

    The endpoint takes the request and the path's parameters (as strings) and
    returns a finished `Response`; it authenticates and reads its body itself.
    """

    def register(endpoint: Endpoint) -> Endpoint:
        router.add_api_route(
            path, endpoint, methods=methods, route_class_override=HotRoute, **options
        )
        return endpoint

    return register


def hot_routes(routers: Iterable[APIRouter]) -> list[HotRoute]:
    return [route for router in routers for route in router.routes if isinstance(route, HotRoute)]


class HotFront:
    """Send hot requests down a lean path; everything else to the full application."""

    def __init__(
        self, app: Starlette, full: ASGIApp, routes: list[HotRoute], settings: Settings
    ) -> None:
        self.app, self.full, self.routes = app, full, routes
        self.lean = request_ids(RequestContext(BodyLimit(self._dispatch, settings)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route in self.routes:
                match, child = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child)
                    scope["app"] = self.app
                    await self.lean(scope, receive, send)
                    return
        await self.full(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await scope["route"].endpoint(request, **request.path_params)
        except Exception as exc:
            response = await problems.answer_error(self.app.exception_handlers, request, exc)
        await response(scope, receive, send)
