"""Hot operations: the lean path answers exactly as the FastAPI router does, is
used only when ``hot_routes`` is on, and the OpenAPI document still lists them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from sessionhub.api.app import create_app
from sessionhub.api.native.hot import HotFront
from sessionhub.config import Settings

pytestmark = pytest.mark.anyio

VOLATILE = {"id", "session_id", "created_at", "updated_at", "workspace_id", "request_id"}


@asynccontextmanager
async def variant(settings: Settings, hot: bool) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"hot_routes": hot, "no_auth": False}))
    async with app.router.lifespan_context(app), serving(app) as http:
        yield http
    assert isinstance(app.middleware_stack, HotFront) is hot


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client with a fresh (non-admin) API key of the default workspace."""
    hub = app.state.hub
    key = (await hub.keys.create(hub.default_workspace_id, "t", admin=False)).secret
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as http:
        yield http


def stable(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: stable(v) for k, v in body.items() if k not in VOLATILE}
    return body


async def exchange(http: httpx.AsyncClient) -> list[tuple[int, str, Any]]:
    sid = (await http.post("/v1/sessions", json={"title": "t"})).json()["id"]
    calls = [
        (
            "POST",
            f"/v1/sessions/{sid}/events",
            {"type": "message", "role": "user", "payload": {"a": 1}},
        ),
        ("POST", f"/v1/sessions/{sid}/events", {"type": "message", "expected_seq": 0}),
        ("POST", f"/v1/sessions/{sid}/events", {"type": "Bad"}),
        ("POST", f"/v1/sessions/{sid}/events", b"{oops"),
        ("POST", "/v1/sessions/missing/events", {"type": "n"}),
        ("GET", f"/v1/sessions/{sid}", None),
        ("GET", "/v1/sessions/missing", None),
    ]
    answers = []
    for method, path, body in calls:
        content = body if isinstance(body, bytes) else None
        json_body = None if isinstance(body, bytes) else body
        r = await http.request(method, path, json=json_body, content=content,
                               headers={"content-type": "application/json"})  # fmt: skip
        answers.append((r.status_code, r.headers["content-type"], stable(r.json())))
    unauthenticated = await http.get(f"/v1/sessions/{sid}", headers={"Authorization": ""})
    answers.append((unauthenticated.status_code, "", stable(unauthenticated.json())))
    return answers


async def test_hot_and_fastapi_routes_agree(settings: Settings, tmp_path: Any) -> None:
    async with variant(settings, hot=True) as http:
        hot = await exchange(http)
    fastapi_settings = settings.model_copy(update={"data_dir": tmp_path / "other"})
    if settings.resolved_database_url.startswith("sqlite"):
        fastapi_settings.database_url = f"sqlite:///{tmp_path / 'other.db'}"
    async with variant(fastapi_settings, hot=False) as http:
        plain = await exchange(http)
    assert [a[0] for a in hot] == [201, 409, 422, 422, 404, 200, 404, 401]
    assert hot == plain


def test_openapi_lists_the_hot_operations_with_their_bodies(settings: Settings) -> None:
    document = create_app(settings).openapi()
    append = document["paths"]["/v1/sessions/{session_id}/events"]["post"]
    get = document["paths"]["/v1/sessions/{session_id}"]["get"]
    assert (append["operationId"], get["operationId"]) == ("append_event", "get_session")
    body = append["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/EventAppend"}
    assert set(document["components"]["schemas"]["EventAppend"]["properties"]) >= {
        "type", "role", "payload", "expected_seq",
    }  # fmt: skip
    for operation in (append, get):
        assert [p["name"] for p in operation["parameters"]] == ["session_id"]
    assert append["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Event"
    }
    assert get["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Session"
    }
