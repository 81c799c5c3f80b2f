"""Domain errors → Orq's envelopes, in one table.

The legacy trace-session API (``/v2/traces/…``) answers Hono's ``{"message", "code"}``
with ``code`` a string; the threads API (``/v2/sessions…``) ``{"message", "code"}``
with ``code`` a gRPC status number. Both as ``application/json``.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from sessionhub.api.problems import install_handlers
from sessionhub.domain import errors

log = logging.getLogger(__name__)

# domain error → (HTTP status, gRPC code)
TABLE: dict[type[errors.SessionHubError], tuple[int, int]] = {
    errors.NotFound: (404, 5),
    errors.AlreadyExists: (409, 6),
    errors.Conflict: (409, 9),
    errors.PreconditionFailed: (412, 9),
    errors.Invalid: (400, 3),
    errors.TooLarge: (413, 8),
    errors.Unauthorized: (401, 16),
    errors.Forbidden: (403, 7),
    errors.Unsupported: (400, 12),
    errors.Unavailable: (503, 14),
}
GRPC_FOR_STATUS = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 409: 6, 413: 8, 422: 3}


def envelope(request: Request, status: int, grpc: int, message: str) -> Response:
    legacy = "/v2/traces/" in request.url.path
    code: str | int = str(status) if legacy else grpc
    return JSONResponse({"message": message, "code": code}, status_code=status)


def lookup(exc: errors.SessionHubError) -> tuple[int, int]:
    for cls in type(exc).__mro__:
        if cls in TABLE:
            return TABLE[cls]
    return 500, 13


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.SessionHubError)
    status, grpc = lookup(exc)
    return envelope(request, status, grpc, exc.detail)


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    where = ".".join(str(p) for p in first.get("loc", ()))
    return envelope(request, 400, 3, f"{where}: {first.get('msg', '')}")


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    return envelope(request, status, GRPC_FOR_STATUS.get(status, 2), str(exc.detail))


async def unhandled(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return envelope(request, 500, 13, "an unexpected error occurred; it was logged")


def install(app: FastAPI) -> None:
    install_handlers(
        app, domain=domain_error, validation=validation_error, http=http_error,
        unhandled=unhandled,
    )  # fmt: skip
