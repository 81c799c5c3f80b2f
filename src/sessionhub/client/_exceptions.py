"""Client-side errors, and the mapping of problem+json answers onto the domain tree.

The client raises the same classes the server raises internally
(``sessionhub.domain.errors``), so one ``except NotFound`` works on either side.
Failures that never reached the server get their own branch of that tree::

    SessionHubError
    ├── NotFound, Conflict, ... (see sessionhub.domain.errors)
    └── ClientError              raised by the client itself
        ├── TransportError       the request did not complete (connect, timeout, reset)
        ├── ProtocolError        the server answered something the client cannot read
        └── ClientClosed         the client was used after ``close()``

A mapped server error keeps the problem document's other members in
``exc.extra`` (``status``, ``type``, ``title``, ``current_seq``, ...).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from sessionhub.domain.errors import (
    AlreadyExists,
    Conflict,
    Forbidden,
    Interrupted,
    Invalid,
    NotFound,
    PathNotAllowed,
    PreconditionFailed,
    RunActive,
    SeqMismatch,
    SessionHubError,
    TooLarge,
    Unauthorized,
    Unavailable,
    Unsupported,
)


class ClientError(SessionHubError):
    """An error raised by the client itself rather than answered by the server."""

    title = "Client Error"


class TransportError(ClientError):
    """The request did not complete: the server is unreachable, or it timed out."""

    title = "Transport Error"


class ProtocolError(ClientError):
    """The server's answer is not what the API contract says it should be."""

    title = "Protocol Error"


class ClientClosed(ClientError):
    """The client was used after it had been closed."""

    title = "Client Closed"


_SERVER_ERRORS: tuple[type[SessionHubError], ...] = (
    NotFound,
    Conflict,
    AlreadyExists,
    SeqMismatch,
    RunActive,
    PreconditionFailed,
    Invalid,
    PathNotAllowed,
    TooLarge,
    Unauthorized,
    Forbidden,
    Unsupported,
    Interrupted,
    Unavailable,
)


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


# A problem names its class by title ("Sequence Mismatch") or by the last
# segment of its type URI (".../seq-mismatch"); both are matched loosely.
_BY_NAME: dict[str, type[SessionHubError]] = {
    **{_key(cls.__name__): cls for cls in _SERVER_ERRORS},
    **{_key(cls.title): cls for cls in _SERVER_ERRORS},
}

_BY_STATUS: dict[int, type[SessionHubError]] = {
    400: Invalid,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: NotFound,
    412: PreconditionFailed,
    413: TooLarge,
    422: Invalid,
    429: Unavailable,
}


def _class_for(status: int, problem: dict[str, Any]) -> type[SessionHubError]:
    for hint in (
        str(problem.get("title", "")),
        re.split(r"[/:#]", str(problem.get("type", "")))[-1],
    ):
        cls = _BY_NAME.get(_key(hint))
        if cls is not None:
            return cls
    if status == 409 and "current_seq" in problem:
        return SeqMismatch
    if status >= 500:
        return Unavailable
    return _BY_STATUS.get(status, Invalid)


def _problem_of(response: httpx.Response) -> dict[str, Any]:
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    text = response.text.strip()[:500]
    return {"detail": text or response.reason_phrase}


def error_from_response(response: httpx.Response) -> SessionHubError:
    """The domain error for a 4xx/5xx response (the body must have been read)."""
    problem = _problem_of(response)
    extra = {k: v for k, v in problem.items() if k != "detail"}
    extra.setdefault("status", response.status_code)
    detail = str(problem.get("detail") or problem.get("title") or response.reason_phrase)
    cls = _class_for(response.status_code, problem)
    exc: SessionHubError
    if cls is SeqMismatch and isinstance(problem.get("current_seq"), int):
        exc = SeqMismatch(detail, current_seq=problem["current_seq"])
    elif cls is SeqMismatch:
        exc = Conflict(detail)
    elif cls is PreconditionFailed:
        current = problem.get("current_version")
        exc = PreconditionFailed(
            detail, current_version=current if isinstance(current, int) else -1
        )
    else:
        exc = cls(detail)
    exc.extra.update(extra)
    return exc


@contextmanager
def map_transport_errors(url: httpx.URL | str) -> Iterator[None]:
    """Translate httpx's network failures into :class:`TransportError`."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise TransportError(f"timed out talking to {url}: {exc}") from exc
    except httpx.TransportError as exc:
        raise TransportError(f"cannot reach {url}: {exc}") from exc
