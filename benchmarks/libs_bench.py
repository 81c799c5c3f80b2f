"""Hand-written code vs the well-kept library for the same job, on the server's hot paths.

Issue 15 asks to replace our own code by a library unless a benchmark row shows the
library costs a hot path real speed. This measures each candidate in-process (no
network, no database), so the rows show the cost of the part alone:

    .venv/bin/python benchmarks/libs_bench.py            # ~20 s

- ``id``: one UUIDv7 as text, made per event appended (store.sql.rows.new_id).
- ``middleware``: one request through the request-id, access-log and metrics middleware to a
  trivial endpoint, as a hot append passes it (the endpoint alone is subtracted).

The libraries must be importable (``pip install asgi-correlation-id
prometheus-fastapi-instrumentator uuid6``); a missing one is reported as such.
"""

from __future__ import annotations

import asyncio
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def per_call_ns(fn: Callable[[], Any], number: int = 100_000) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e9


def id_rows() -> list[tuple[str, float]]:
    from sessionhub.store.sql.rows import new_id

    rows = [("new_id (uuid-utils, in use)", per_call_ns(new_id))]
    try:
        import uuid6

        rows.append(("uuid6.uuid7()", per_call_ns(lambda: str(uuid6.uuid7()))))
    except ImportError:
        rows.append(("uuid6.uuid7() (not installed)", float("nan")))
    return rows


def asgi_app() -> Any:
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    async def endpoint(request: Any) -> Response:
        return Response(b'{"seq":1}', media_type="application/json")

    return Starlette(routes=[Route("/v1/sessions/{sid}/events", endpoint, methods=["POST"])])


async def drive(app: Any, n: int) -> float:
    scope_base = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/v1/sessions/abc/events", "raw_path": b"/v1/sessions/abc/events",
        "query_string": b"", "root_path": "", "headers": [(b"host", b"x")],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
    }  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    started = time.perf_counter()
    for _ in range(n):
        await app(dict(scope_base), receive, send)
    return (time.perf_counter() - started) / n * 1e9


def middleware_rows(n: int = 20_000) -> list[tuple[str, float]]:
    from sessionhub.api.middleware import RequestContext, request_ids

    bare = asgi_app()

    class Routed:
        """What HotFront does before our middleware: the route is in the scope."""

        def __init__(self, inner: Any) -> None:
            self.inner, self.route = inner, bare.routes[0]

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            scope["route"] = self.route
            await self.inner(scope, receive, send)

    stacks: list[tuple[str, Any]] = [("endpoint alone", bare)]
    stacks.append(("RequestContext (ours: access log + metrics)", Routed(RequestContext(bare))))
    in_use = Routed(request_ids(RequestContext(bare)))
    stacks.append(("asgi-correlation-id + RequestContext (in use)", in_use))
    try:
        from asgi_correlation_id import CorrelationIdMiddleware
        from prometheus_client import CollectorRegistry
        from prometheus_fastapi_instrumentator.middleware import (
            PrometheusInstrumentatorMiddleware,
        )

        stacks.append(("asgi-correlation-id", CorrelationIdMiddleware(bare)))
        metrics = PrometheusInstrumentatorMiddleware(bare, registry=CollectorRegistry())
        stacks.append(("prometheus-fastapi-instrumentator", metrics))
        both = CorrelationIdMiddleware(
            PrometheusInstrumentatorMiddleware(bare, registry=CollectorRegistry())
        )
        stacks.append(("asgi-correlation-id + prometheus-fastapi-instrumentator", both))
    except ImportError:
        pass
    loop = asyncio.new_event_loop()
    results = []
    for name, app in stacks:
        loop.run_until_complete(drive(app, 1000))  # warm up
        results.append((name, min(loop.run_until_complete(drive(app, n)) for _ in range(3))))
    loop.close()
    base = results[0][1]
    return [results[0]] + [(name, ns - base) for name, ns in results[1:]]


def main() -> None:
    print("id (ns per id)")
    for name, ns in id_rows():
        print(f"  {name:60} {ns:10.0f}")
    print("middleware (ns per request, over the endpoint alone)")
    for name, ns in middleware_rows():
        print(f"  {name:60} {ns:10.0f}")


if __name__ == "__main__":
    main()
