"""Jupyter Server's wire shapes: request bodies checked by hand (Jupyter's 400 messages), models out."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

from sessionhub.api.dialects.jupyter.errors import BadRequest
from sessionhub.domain.attributes.kernel import KernelAttributes
from sessionhub.domain.models import Session
from sessionhub.kinds.kernel.rules import KernelChoice, KernelSessions, SessionChanges

MAX_PATH = 200  # the path is the session's name
MAX_TEXT = 1000  # name (the session's title), type, kernel name and id
LIMITS = {"path": MAX_PATH}


async def json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        raise BadRequest("No JSON data provided")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("Invalid JSON in body of request") from None
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object")
    return data


def text(body: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    """A string field: absent is None (or a 400 when required); null or another type is a 400."""
    if key not in body:
        if required:
            raise BadRequest(f"Missing field in JSON data: {key}")
        return None
    value = body[key]
    if not isinstance(value, str):
        raise BadRequest(f"Field {key!r} must be a string")
    return storable(key, value, LIMITS.get(key, MAX_TEXT))


def storable(key: str, value: str, limit: int = MAX_TEXT) -> str:
    """A string the store keeps as it is on SQLite and PostgreSQL: no NUL, bounded."""
    if "\x00" in value:
        raise BadRequest(f"Field {key!r} must not contain NUL characters")
    if len(value) > limit:
        raise BadRequest(f"Field {key!r} is longer than {limit} characters")
    return value


def checked_path(path: str) -> str:
    if not path:
        raise BadRequest("Field 'path' must not be empty")
    return storable("path", path, MAX_PATH)


def kernel_request(body: dict[str, Any]) -> KernelChoice:
    """``kernel: {name?, id?}``; absent is neither."""
    kernel = body.get("kernel", {})
    if not isinstance(kernel, dict):
        raise BadRequest("Field 'kernel' must be an object")
    found: dict[str, str | None] = {}
    for key in ("id", "name"):
        value = kernel.get(key)
        if value is not None and not isinstance(value, str):
            raise BadRequest(f"Field 'kernel.{key}' must be a string")
        found[key] = storable(f"kernel.{key}", value) if value else None
    return KernelChoice(**found)


def changes(body: dict[str, Any]) -> SessionChanges:
    """A PATCH's path, name and type (those it names)."""
    given = {key: text(body, key) for key in ("path", "name", "type") if key in body}
    if "path" in given:
        checked_path(str(given["path"]))
    return SessionChanges(**given)


def legacy_notebook(body: dict[str, Any]) -> dict[str, Any]:
    """The deprecated ``{"notebook": {"path"|"name"}}`` form means a notebook at that path."""
    notebook = body.get("notebook")
    if notebook is None:
        return body
    if not isinstance(notebook, dict):
        raise BadRequest("Field 'notebook' must be an object")
    body = {**body, "type": "notebook"}
    path = notebook.get("name") or notebook.get("path")
    if path is not None:
        body["path"] = path
    return body


def answer(content: Any, status_code: int = 200) -> Response:
    """JSON straight from our dicts: the read routes skip FastAPI's response validation
    and encoding, which cost more than the rest of a 50-session list."""
    return Response(orjson.dumps(content), status_code=status_code, media_type="application/json")


def session_models(
    sessions: KernelSessions, found: list[Session], remote: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Many sessions' models; a running kernel's model is made once for all its sessions,
    and a kernel another node runs has the model its owner gave (``remote``, by id)."""
    running: dict[str, dict[str, Any]] = dict(remote or {})
    models = []
    for session in found:
        kernel_id = KernelAttributes.of(session).kernel_id
        kernel = running.get(kernel_id)
        if kernel is None:
            kernel = sessions.kernel_model(session)
            if sessions.driver.running(kernel_id):
                running[kernel_id] = kernel
        models.append(session_model(sessions, session, kernel))
    return models


def session_model(
    sessions: KernelSessions, session: Session, kernel: dict[str, Any] | None = None
) -> dict[str, Any]:
    attributes = KernelAttributes.of(session)
    path = attributes.path or session.name or ""
    name, kind = attributes.jupyter_name, attributes.type
    model: dict[str, Any] = {
        "id": session.id, "path": path, "name": name, "type": kind,
        "kernel": kernel if kernel is not None else sessions.kernel_model(session),
    }  # fmt: skip
    if kind == "notebook":
        model["notebook"] = {"path": path, "name": name}
    return model
