"""Domain errors → ComfyDeploy's ``{"detail": "<string>"}``, in one table.

Validation stays FastAPI's own 422 ``{"detail": [...]}``, which the SDKs parse.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from sessionhub.api.problems import install_handlers
from sessionhub.domain import errors
from sessionhub.execution.sandbox import SandboxUnavailable
from sessionhub.kinds.machine.rules import LeaseNotFound, MachineNotFound

log = logging.getLogger(__name__)

# class → (status, the backend's message, or None to pass the domain detail on)
TABLE: dict[type[errors.SessionHubError], tuple[int, str | None]] = {
    MachineNotFound: (404, "Machine not found"),
    LeaseNotFound: (404, "GPUEvent not found"),
    errors.NotFound: (404, None),
    errors.Conflict: (409, None),
    errors.Invalid: (400, None),
    errors.TooLarge: (413, None),
    errors.Unauthorized: (401, "Invalid or missing token"),
    errors.Forbidden: (403, None),
    errors.Unsupported: (400, None),
    SandboxUnavailable: (503, None),  # names its fixes (install bubblewrap, or opt out)
    errors.Unavailable: (500, "Session creation failed"),
}


def lookup(exc: errors.SessionHubError) -> tuple[int, str]:
    for cls in type(exc).__mro__:
        if cls in TABLE:
            status, message = TABLE[cls]
            return status, message or exc.detail
    return 500, exc.detail


def detail(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


async def domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.SessionHubError)
    status, message = lookup(exc)
    if status >= 500:
        log.warning("comfydeploy: %s (%s)", message, exc.detail)
    return detail(status, message)


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own 422 ``{"detail": [...]}``."""
    assert isinstance(exc, RequestValidationError)
    return await request_validation_exception_handler(request, exc)


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return detail(exc.status_code, str(exc.detail))


async def unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.exception("comfydeploy: unhandled error on %s %s", request.method, request.url.path)
    return detail(500, "Internal Server Error")


def install(app: FastAPI) -> None:
    install_handlers(
        app, domain=domain_error, validation=validation_error, http=http_error,
        unhandled=unhandled,
    )  # fmt: skip
