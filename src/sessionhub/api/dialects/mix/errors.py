"""Domain errors → Mix's ``{"error": {"code", "message", "type"}}`` envelope, in one table.

Mix SDKs retry 5xx, 408 and 429 for ten minutes, so every deterministic client
error maps to a 4xx here; only an unexpected failure is a 500.
"""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from sessionhub.api.problems import install_handlers
from sessionhub.domain import errors
from sessionhub.kinds.agent.rules import InvalidField

log = logging.getLogger(__name__)

TABLE: dict[type[errors.SessionHubError], tuple[int, str]] = {
    errors.NotFound: (404, "not_found"),
    errors.Conflict: (400, "bad_request"),
    errors.PreconditionFailed: (400, "bad_request"),
    errors.Invalid: (400, "validation_error"),
    errors.TooLarge: (413, "bad_request"),
    errors.Unauthorized: (401, "unauthorized"),
    errors.Forbidden: (401, "unauthorized"),
    errors.Unsupported: (400, "bad_request"),
    errors.Unavailable: (503, "internal_error"),
}


class MixError(errors.Invalid):
    """A 400 whose message is already in Mix's words (no field prefix)."""

    def __init__(self, message: str, *, kind: str = "validation_error") -> None:
        super().__init__(message)
        self.kind = kind


def envelope(status: int, kind: str, message: str) -> Response:
    body = {"error": {"code": status, "message": message, "type": kind}}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


# The agent rules name fields as the native API does; Mix's body spells these otherwise.
WIRE_FIELDS = {"message_index": "messageIndex", "text": "content"}


def message(exc: errors.SessionHubError) -> str:
    if isinstance(exc, InvalidField):
        field = WIRE_FIELDS.get(exc.field, exc.field)
        return f"Validation error for field '{field}': {exc.reason}"
    return exc.detail


def lookup(exc: errors.SessionHubError) -> tuple[int, str]:
    if isinstance(exc, MixError):
        return 400, exc.kind
    for cls in type(exc).__mro__:
        if cls in TABLE:
            return TABLE[cls]
    return 500, "internal_error"


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.SessionHubError)
    status, kind = lookup(exc)
    return envelope(status, kind, message(exc))


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": ("body",), "msg": "invalid"}
    field = str(first.get("loc", ("body",))[-1])
    return envelope(
        400, "validation_error", f"Validation error for field '{field}': {first['msg']}"
    )


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    kind = "not_found" if exc.status_code == 404 else "bad_request"
    status = exc.status_code if exc.status_code < 500 else 500
    return envelope(status, kind, str(exc.detail))


async def unhandled(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return envelope(500, "internal_error", "Internal error during request: it was logged")


def install(app: FastAPI) -> None:
    install_handlers(
        app, domain=domain_error, validation=validation_error, http=http_error,
        unhandled=unhandled,
    )  # fmt: skip
