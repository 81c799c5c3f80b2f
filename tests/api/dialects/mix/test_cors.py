"""Mix's server answers browsers from any origin: preflights and simple requests."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.anyio
ORIGIN = {"Origin": "http://localhost:5173"}


async def test_preflight_is_answered_with_mix_cors_headers(client: httpx.AsyncClient) -> None:
    response = await client.options(
        "/mix/api/sessions",
        headers={**ORIGIN, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "Authorization, Content-Type"},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "PATCH" in response.headers["access-control-allow-methods"]
    assert "Authorization" in response.headers["access-control-allow-headers"]


async def test_answers_carry_the_allow_origin_header(client: httpx.AsyncClient) -> None:
    response = await client.get("/mix/api/sessions", headers=ORIGIN)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
