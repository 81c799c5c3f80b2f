"""Domain errors → Jupyter Server's error bodies, in one table.

Jupyter answers ``{"message", "reason"}`` with ``application/json``; an unknown
kernel name is a 501 with ``{"message", "short_message"}`` instead, and a missing
or wrong token is a 403, not a 401.
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
from sessionhub.kinds.kernel.state import UnknownKernelName

log = logging.getLogger(__name__)

STATUS: dict[type[errors.SessionHubError], int] = {
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PreconditionFailed: 412,
    errors.Invalid: 400,
    errors.TooLarge: 413,
    errors.Unauthorized: 403,
    errors.Forbidden: 403,
    errors.Unsupported: 400,
    errors.Unavailable: 503,
}


class BadRequest(errors.Invalid):
    """A request Jupyter refuses with a 400 and exactly this message."""


def status_for(exc: errors.SessionHubError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def message(status: int, text: str, **extra: object) -> Response:
    body = {"message": text, "reason": None, **extra}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.SessionHubError)
    if isinstance(exc, UnknownKernelName):
        name = exc.kernel_name
        body = {
            "message": f"The '{name}' kernel is not available. Please pick another suitable "
            "kernel instead, or install that kernel.",
            "short_message": f"{name} not found",
        }
        return Response(orjson.dumps(body), status_code=501, media_type="application/json")
    status = status_for(exc)
    if isinstance(exc, errors.Unauthorized | errors.Forbidden):
        return message(403, "Forbidden")
    if status >= 500:
        log.warning("jupyter: %s", exc.detail, exc_info=exc.__cause__)
    return message(status, exc.detail)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return message(exc.status_code, str(exc.detail))


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return message(400, "Invalid request")


async def unhandled(request: Request, exc: Exception) -> Response:
    log.exception("jupyter: unhandled error on %s %s", request.method, request.url.path)
    return message(500, "Unhandled error", traceback="")


def install(app: FastAPI) -> None:
    install_handlers(
        app, domain=domain_error, validation=validation_error, http=http_error,
        unhandled=unhandled,
    )  # fmt: skip
