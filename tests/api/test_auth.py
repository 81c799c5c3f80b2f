"""API keys and tenancy: every query scoped to the caller's workspace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sessionhub.api.app import create_app
from sessionhub.config import Settings
from sessionhub.domain.errors import Invalid

pytestmark = pytest.mark.anyio


@pytest.fixture
async def secured(settings: Settings) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    app = create_app(settings.model_copy(update={"no_auth": False}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            yield app, http


async def key_for(app: Any, workspace: str, *, admin: bool = False) -> str:
    store = app.state.hub.service.store
    ws = await store.get_workspace(name=workspace) or await store.create_workspace(name=workspace)
    return (await store.create_key(workspace_id=ws.id, name="t", admin=admin)).secret  # type: ignore[no-any-return]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_missing_and_wrong_keys_are_401(secured: tuple[Any, httpx.AsyncClient]) -> None:
    _, http = secured
    missing = await http.get("/v1/sessions")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert missing.headers["content-type"] == "application/problem+json"
    assert (await http.get("/v1/sessions", headers=bearer("shk_wrong"))).status_code == 401
    assert (await http.get("/v1/sessions", headers={"Authorization": "Basic x"})).status_code == 401


async def test_foreign_workspace_is_404(secured: tuple[Any, httpx.AsyncClient]) -> None:
    app, http = secured
    alice, bob = await key_for(app, "alice"), await key_for(app, "bob")
    sid = (await http.post("/v1/sessions", json={}, headers=bearer(alice))).json()["id"]
    assert (await http.get(f"/v1/sessions/{sid}", headers=bearer(bob))).status_code == 404
    assert (await http.delete(f"/v1/sessions/{sid}", headers=bearer(bob))).status_code == 404
    assert (await http.get("/v1/sessions", headers=bearer(bob))).json()["items"] == []
    assert (await http.get(f"/v1/sessions/{sid}", headers=bearer(alice))).status_code == 200


async def test_key_management_needs_admin_and_revoke_works(
    secured: tuple[Any, httpx.AsyncClient],
) -> None:
    app, http = secured
    admin, plain = await key_for(app, "default", admin=True), await key_for(app, "default")
    assert (await http.get("/v1/keys", headers=bearer(plain))).status_code == 403
    created = await http.post("/v1/keys", json={"name": "ci"}, headers=bearer(admin))
    assert created.status_code == 201
    secret, key_id = created.json()["key"], created.json()["id"]
    assert (await http.get("/v1/sessions", headers=bearer(secret))).status_code == 200
    listed = (await http.get("/v1/keys", headers=bearer(admin))).json()["items"]
    assert key_id in [k["id"] for k in listed] and secret not in str(listed)
    assert (await http.delete(f"/v1/keys/{key_id}", headers=bearer(admin))).status_code == 204
    assert (await http.get("/v1/sessions", headers=bearer(secret))).status_code == 401


def test_no_auth_refused_off_loopback(settings: Settings) -> None:
    with pytest.raises(Invalid):
        create_app(settings.model_copy(update={"no_auth": True, "host": "0.0.0.0"}))
