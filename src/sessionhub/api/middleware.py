"""Pure ASGI middleware: request ids, access logs, metrics, body size limits."""

from __future__ import annotations

import random
import time
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sessionhub.api.ops import LATENCY, REQUESTS
from sessionhub.config import Settings
from sessionhub.logs import access_log, request_id


class RequestContext:
    """Request id, access log and per-route metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming[:100] if incoming else f"{random.getrandbits(128):032x}"
        token = request_id.set(rid)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._record(scope, status, time.perf_counter() - started, rid)
            request_id.reset(token)

    def _record(self, scope: Scope, status: int, elapsed: float, rid: str) -> None:
        route = scope.get("route")
        template = getattr(route, "path", "unmatched")
        method = scope["method"]
        counter, histogram = self._metrics(method, template, status)
        counter.inc()
        histogram.observe(elapsed)
        access_log.emit(method, scope["path"], status, round(elapsed * 1000, 2), rid)

    def _metrics(self, method: str, template: str, status: int) -> tuple[Any, Any]:
        """Label children, looked up once per (method, route, status)."""
        key = (method, template, status)
        found = self._children.get(key)
        if found is None:
            found = (
                REQUESTS.labels(method, template, str(status)),
                LATENCY.labels(method, template),
            )
            self._children[key] = found
        return found


class BodyLimit:
    """Refuse bodies over the limit (413) before a handler buffers them.

    File uploads and imports have their own, larger limits, enforced as they stream.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    def limit_for(self, scope: Scope) -> int | None:
        path: str = scope["path"]
        if "/files/" in path or path.endswith("/import"):
            return None
        return self.settings.max_json_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limit_for(scope) if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isascii() and length.isdigit() and int(length) > limit:
            await too_large(send, limit)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise HTTPException(413, f"the request body is over the limit of {limit} bytes")
            return message

        await self.app(scope, counted, send)


async def too_large(send: Send, limit: int) -> None:
    body: dict[str, Any] = {
        "type": "urn:sessionhub:content-too-large",
        "title": "Content Too Large",
        "status": 413,
        "detail": f"the request body is over the limit of {limit} bytes",
    }
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/problem+json")],
        }
    )
    await send({"type": "http.response.body", "body": orjson.dumps(body)})
