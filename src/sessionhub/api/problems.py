"""Domain errors → RFC 9457 problem documents, in one table."""

from __future__ import annotations

import inspect
import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from sessionhub.domain import errors
from sessionhub.domain.models import INT64_MAX, INT64_MIN

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"

STATUS: dict[type[errors.SessionHubError], int] = {
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PreconditionFailed: 412,
    errors.Invalid: 400,
    errors.TooLarge: 413,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.Unsupported: 409,
    errors.Unavailable: 503,
}


def status_for(exc: errors.SessionHubError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def slug(title: str) -> str:
    return title.lower().replace(" ", "-")


def problem_body(status: int, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    body = {"type": f"urn:sessionhub:{slug(title)}", "title": title, "status": status}
    return {**body, "detail": detail, **extra}


def problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return Response(
        orjson.dumps(problem_body(status, title, detail, **extra)),
        status_code=status, media_type=PROBLEM, headers=headers,
    )  # fmt: skip


def problem_of(exc: BaseException) -> dict[str, Any]:
    """The problem body for an error raised where no response can carry it any more
    (a line of a stream already under way); anything unexpected is a logged 500."""
    if isinstance(exc, errors.SessionHubError):
        return problem_body(status_for(exc), exc.title, exc.detail, **exc.extra)
    log.error("unhandled error in a streamed answer", exc_info=exc)
    return problem_body(500, "Internal Server Error", "the server failed; see its log")


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.SessionHubError)
    status = status_for(exc)
    if status >= 500:
        log.warning("unavailable: %s", exc.detail, exc_info=exc.__cause__)
    return problem(status, exc.title, exc.detail, **exc.extra)


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    issues = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    first = issues[0] if issues else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"])
    return problem(422, "Unprocessable Content", f"{where}: {first['msg']}", errors=issues)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    titles = {
        400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
        413: "Content Too Large", 415: "Unsupported Media Type",
    }  # fmt: skip
    title = titles.get(exc.status_code, "Error")
    return problem(exc.status_code, title, str(exc.detail))


async def unhandled(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "Internal Server Error", "an unexpected error occurred; it was logged")


Handler = Callable[[Request, Exception], Awaitable[Response]]
_SURROGATE = re.compile("[\ud800-\udfff]")


ECHO_DEPTH = 16


def json_safe(value: Any, depth: int = 0) -> Any:
    """``value`` as every JSON encoder can write it: an error echoes what the client
    sent, and that may hold bytes that are not UTF-8, a lone surrogate, ``NaN``/``Infinity``
    (not JSON), an integer past 64 bits (orjson refuses it) or nesting deeper than an
    encoder recurses. Those become text; what lies past `ECHO_DEPTH` is cut to "…"."""
    if depth > ECHO_DEPTH:
        return "…"
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, bytes):  # a body that was not JSON; not always UTF-8
        return value.decode("utf-8", "replace")
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        return str(value)
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(json_safe(item, depth + 1) for item in value)
    return value


def echoing_safely(handler: Handler) -> Handler:
    """``handler`` given an error whose echoed input, messages and details are
    `json_safe`: once here for every surface, so no envelope fails to render."""

    async def handle(request: Request, exc: Exception) -> Response:
        if isinstance(exc, RequestValidationError):
            exc = RequestValidationError(json_safe(list(exc.errors())), body=json_safe(exc.body))
        elif isinstance(exc, errors.SessionHubError):
            exc.detail, exc.extra = json_safe(exc.detail), json_safe(exc.extra)
        elif isinstance(exc, HTTPException):
            exc.detail = json_safe(exc.detail)
        return await handler(request, exc)

    return handle


def model_errors_as(validation_handler: Handler) -> Handler:
    """A pydantic ``ValidationError`` raised inside a route — a model a handler built
    from what the client sent — answered as that surface answers invalid requests."""

    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ValidationError)
        issues = exc.errors(include_url=False, include_context=False, include_input=False)
        return await validation_handler(request, RequestValidationError(issues))

    return handle


async def answer_error(
    handlers: Mapping[Any, Callable[[Request, Any], Response | Awaitable[Response]]],
    request: Request,
    exc: Exception,
) -> Response:
    """``exc`` answered by the app's handler for its nearest class, looked up along
    its MRO as Starlette does: for a path that runs outside the app's error layers."""
    for cls in type(exc).__mro__:
        if cls in handlers:
            response = handlers[cls](request, exc)
            return await response if inspect.isawaitable(response) else response
    raise exc


def install_handlers(
    app: FastAPI, *, domain: Handler, validation: Handler, http: Handler, unhandled: Handler
) -> None:
    """One surface's error envelope: domain errors, invalid requests (also models a
    route builds from what the client sent), HTTP errors, and anything unexpected."""
    domain, validation, http = map(echoing_safely, (domain, validation, http))
    app.add_exception_handler(errors.SessionHubError, domain)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(ValidationError, model_errors_as(validation))
    app.add_exception_handler(HTTPException, http)
    app.add_exception_handler(Exception, unhandled)


def install(app: FastAPI) -> None:
    install_handlers(
        app, domain=domain_error, validation=validation_error, http=http_error,
        unhandled=unhandled,
    )  # fmt: skip
