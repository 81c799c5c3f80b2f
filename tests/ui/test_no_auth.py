"""The UI without a browser: a ``--no-auth`` server (no sign-in, the CSRF token still
anchored in a cookie), bad input as HTML 4xx pages, /docs assets served locally.
Runs on SQLite and PostgreSQL (the ``client`` fixture's app, ``no_auth=True``)."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.anyio


def token_of(page: str) -> str:
    return page.split('name="csrf-token" content="')[1].split('"')[0]


async def test_no_auth_needs_no_sign_in_but_forms_still_need_the_token(
    client: httpx.AsyncClient,
) -> None:
    sid = (await client.post("/v1/sessions", json={"title": "open"})).json()["id"]
    listed = await client.get("/ui")
    assert listed.status_code == 200 and "open" in listed.text
    assert "Sign out" not in listed.text
    anchor = listed.cookies["sessionhub_ui"]
    assert len(anchor) >= 32 and "httponly" in listed.headers["set-cookie"].lower()
    token = token_of(listed.text)
    assert client.cookies["sessionhub_ui"] == anchor  # the client sends it back from now on
    refused = await client.post(f"/ui/sessions/{sid}/fork", data={"csrf": "x"})
    assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
    forked = await client.post(f"/ui/sessions/{sid}/fork", data={"csrf": token})
    assert forked.status_code == 303 and forked.headers["location"].endswith("note=Forked")
    client.cookies.clear()
    stale = await client.post(f"/ui/sessions/{sid}/fork", data={"csrf": token})
    assert stale.status_code == 403  # no cookie, no anchor: the token means nothing


@pytest.mark.parametrize(
    ("path", "status"),
    [("/ui?status=bogus", 400), ("/ui/sessions/no-such-session", 404),
     ("/ui/sessions/no-such-session/rewind?to=x", 404), ("/ui?cursor=%00", 400)],
)  # fmt: skip
async def test_bad_input_is_an_html_4xx(client: httpx.AsyncClient, path: str, status: int) -> None:
    answer = await client.get(path)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert "Content-Security-Policy" in answer.headers


async def test_docs_serve_swagger_from_this_server(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "/docs/assets/swagger-ui-bundle.js" in page.text and "cdn" not in page.text
    bundle = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.content) > 100_000
    spec = (await client.get("/v1/openapi.json")).json()
    assert spec["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http", "scheme": "bearer", "description": spec["components"]["securitySchemes"]["ApiKey"]["description"],
    }  # fmt: skip
    assert {"ApiKey": []} in spec["security"]


async def test_a_crafted_note_is_not_shown(client: httpx.AsyncClient) -> None:
    shown = await client.get("/ui", params={"note": "Forked"})
    assert '<p class="note" role="status">Forked</p>' in shown.text
    crafted = await client.get("/ui", params={"note": "Your key expired: paste it at evil.example"})
    assert "evil.example" not in crafted.text
