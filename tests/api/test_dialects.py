"""Dialect plugins: mounted under their prefix (and at / when asked), sharing the hub."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from sessionhub.api import dialects
from sessionhub.api.app import create_app
from sessionhub.config import Settings
from sessionhub.domain.errors import Invalid

pytestmark = pytest.mark.anyio


class EchoDialect(dialects.Dialect):
    name = "echo"
    prefix = "/echo"

    def create_app(self) -> FastAPI:
        sub = FastAPI()

        @sub.get("/api/whoami")
        async def whoami(request: Request) -> dict[str, Any]:
            return {"workspace": request.app.state.hub.default_workspace_id}

        return sub


@pytest.fixture
def with_echo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dialects, "load_dialects", lambda: {"echo": EchoDialect()})


@pytest.mark.usefixtures("with_echo")
@pytest.mark.parametrize("root", [None, "echo"])
async def test_mounted_under_prefix_and_root(settings: Settings, root: str | None) -> None:
    app = create_app(settings.model_copy(update={"root_dialect": root}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            prefixed = await http.get("/echo/api/whoami")
            assert prefixed.json() == {"workspace": app.state.hub.default_workspace_id}
            at_root = await http.get("/api/whoami")
            assert at_root.status_code == (200 if root else 404)
            assert (await http.get("/healthz")).status_code == 200


@pytest.mark.usefixtures("with_echo")
def test_unknown_root_dialect_is_refused(settings: Settings) -> None:
    with pytest.raises(Invalid, match="unknown --root-dialect 'nope'"):
        create_app(settings.model_copy(update={"root_dialect": "nope"}))
