"""Text PostgreSQL cannot store (NUL, ``\\u0000``) is refused with a 4xx on every surface
and on both databases alike, and never fails other clients' writes in the same batch."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest

pytestmark = pytest.mark.anyio
NUL = "a\u0000b"


@pytest.mark.parametrize(
    "body",
    [
        {"name": NUL}, {"title": NUL}, {"metadata": {"k": NUL}}, {"metadata": {NUL: 1}},
        {"attributes": {"deep": [{"x": NUL}]}},
    ],
)  # fmt: skip
async def test_create_refuses_nul(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    response = await client.post("/v1/sessions", json=body)
    assert response.status_code == 422, response.text
    assert "NUL" in response.json()["detail"]
    assert (await client.get("/v1/sessions")).json()["items"] == []


async def test_update_and_append_refuse_nul(client: httpx.AsyncClient) -> None:
    sid = (await client.post("/v1/sessions", json={})).json()["id"]
    assert (await client.patch(f"/v1/sessions/{sid}", json={"title": NUL})).status_code == 422
    one = await client.post(f"/v1/sessions/{sid}/events", json={"type": "m", "payload": {"t": NUL}})
    assert one.status_code == 422 and "NUL" in one.json()["detail"]
    batch = await client.post(
        f"/v1/sessions/{sid}/events/batch",
        json={"events": [{"type": "m"}, {"type": "m", "payload": {"t": NUL}}]},
    )
    assert batch.status_code == 422
    session = (await client.get(f"/v1/sessions/{sid}")).json()
    assert session["last_seq"] == 0 and session["title"] is None


async def test_a_refused_append_does_not_fail_concurrent_ones(client: httpx.AsyncClient) -> None:
    sid = (await client.post("/v1/sessions", json={})).json()["id"]
    bodies = [{"type": "m", "payload": {"t": NUL if i == 5 else "ok"}} for i in range(20)]
    answers = await asyncio.gather(
        *(client.post(f"/v1/sessions/{sid}/events", json=b) for b in bodies)
    )
    assert sorted(a.status_code for a in answers) == [201] * 19 + [422]
    assert (await client.get(f"/v1/sessions/{sid}")).json()["last_seq"] == 19


async def test_an_append_to_an_id_with_nul_does_not_fail_concurrent_ones(
    client: httpx.AsyncClient,
) -> None:
    sid = (await client.post("/v1/sessions", json={})).json()["id"]
    paths = [f"/v1/sessions/{'a%00b' if i == 5 else sid}/events" for i in range(20)]
    answers = await asyncio.gather(
        *(client.post(path, json={"type": "m", "payload": {}}) for path in paths)
    )
    assert sorted(a.status_code for a in answers) == [201] * 19 + [404]
    assert (await client.get(f"/v1/sessions/{sid}")).json()["last_seq"] == 19


async def test_import_with_nul_is_400_and_leaves_nothing(client: httpx.AsyncClient) -> None:
    sid = (await client.post("/v1/sessions", json={"title": "t"})).json()["id"]
    await client.post(f"/v1/sessions/{sid}/events", json={"type": "m", "payload": {"t": "x"}})
    doc = orjson.loads((await client.get(f"/v1/sessions/{sid}/export")).content)
    await client.delete(f"/v1/sessions/{sid}")
    doc["events"][0]["payload"]["t"] = NUL
    response = await client.post("/v1/sessions/import", content=orjson.dumps(doc))
    assert 400 <= response.status_code < 500, response.text
    assert (await client.get("/v1/sessions")).json()["items"] == []


async def test_machines_refuse_nul(client: httpx.AsyncClient) -> None:
    spec = {"name": "m", "command": f"echo {NUL} {{port}}"}
    assert (await client.post("/v1/machines", json=spec)).status_code == 422
    spec = {"name": "m", "command": "serve {port}", "env": {"A": NUL}}
    assert (await client.post("/v1/machines", json=spec)).status_code == 422


async def test_dialects_answer_nul_with_their_own_4xx(client: httpx.AsyncClient) -> None:
    mix = await client.post(
        "/mix/api/sessions", json={"title": NUL, "browserMode": "local-browser-service"}
    )
    assert mix.status_code == 400 and set(mix.json()["error"]) == {"code", "message", "type"}
    threads = await client.post("/orq/v2/sessions", json={"external_id": NUL})
    assert 400 <= threads.status_code < 500, threads.text
    assert {"message", "code"} <= set(threads.json())
    legacy = await client.post("/orq/v2/traces/sessions", json={"tags": [NUL], "project_id": NUL})
    assert 400 <= legacy.status_code < 500, legacy.text
    lease = await client.post("/comfydeploy/api/session", json={"machine_id": NUL})
    assert 400 <= lease.status_code < 500, lease.text


async def test_lookups_by_an_id_with_nul_are_4xx(client: httpx.AsyncClient) -> None:
    for path in ["/v1/sessions/a%00b", "/v1/sessions/a%00b/events", "/v1/machines/a%00b"]:
        response = await client.get(path)
        assert 400 <= response.status_code < 500, (path, response.text)


# Raw JSON text, as a client sends it: a lone surrogate escape, the non-standard number
# literals, an integer past 64 bits. Python's json module reads all three.
SURROGATE = '"a\\ud800b"'
ALL_TIME = '{"interval": "SESSION_INTERVAL_ALL_TIME"}'
JSON = {"content-type": "application/json"}


async def post_raw(client: httpx.AsyncClient, path: str, text: str) -> httpx.Response:
    return await client.post(path, content=text.encode(), headers=JSON)


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("/v1/sessions", f'{{"parent_id": {SURROGATE}}}'),
        ("/v1/sessions", f'{{"name": {SURROGATE}}}'),
        ("/v1/sessions", f'{{"metadata": {{"k": {SURROGATE}}}}}'),
        ("/orq/v2/sessions", f'{{"external_id": {SURROGATE}}}'),
        ("/orq/v2/sessions/query", f'{{"filters": {{"interval": {SURROGATE}}}}}'),
        ("/orq/v2/traces/sessions/query", f'{{"pagination": {{"lastId": {SURROGATE}}}}}'),
        ("/orq/v2/traces/sessions/query",
         f'{{"filters": [{{"type": "string", "operator": "equals", "value": {SURROGATE},'
         ' "path": "external_id"}]}'),
        ("/comfydeploy/api/session", f'{{"machine_id": {SURROGATE}}}'),
        ("/mix/api/sessions", f'{{"title": {SURROGATE}, "browserMode": "local-browser-service"}}'),
        ("/jupyter/api/sessions", f'{{"path": {SURROGATE}, "type": "notebook"}}'),
    ],
)  # fmt: skip
async def test_lone_surrogates_are_4xx_everywhere(
    client: httpx.AsyncClient, path: str, text: str
) -> None:
    response = await post_raw(client, path, text)
    assert 400 <= response.status_code < 500, response.text
    response.json()  # the surface's own envelope, rendered
    assert (await client.get("/v1/sessions")).json()["items"] == []


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/comfydeploy/api/session", '{"machine_id": "m", "timeout": %s}'),
        ("/orq/v2/sessions/query", '{"filters": ' + ALL_TIME + ', "page": %s}'),
        ("/orq/v2/sessions/query", '{"filters": ' + ALL_TIME + ', "limit": %s}'),
        ("/orq/v2/traces/sessions/query", '{"pagination": {"page": %s}}'),
        ("/v1/sessions", '{"ttl_seconds": %s}'),
        ("/mix/api/sessions", '{"browserMode": "local-browser-service", "title": %s}'),
    ],
)  # fmt: skip
async def test_non_finite_numbers_are_4xx_and_render(
    client: httpx.AsyncClient, path: str, template: str, literal: str
) -> None:
    response = await post_raw(client, path, template % literal)
    assert 400 <= response.status_code < 500, response.text
    response.json()


async def test_a_validation_error_echoes_nan_as_text(client: httpx.AsyncClient) -> None:
    """ComfyDeploy's 422 echoes the input (FastAPI's own body); NaN is not JSON."""
    response = await post_raw(client, "/comfydeploy/api/session", '{"machine_id": NaN}')
    assert response.status_code == 422
    assert response.json()["detail"][0]["input"] == "NaN"


HUGE = "123456789012345678901234567890"


@pytest.mark.parametrize(
    "text",
    [
        '{"filters": ' + ALL_TIME + ', "page": ' + HUGE + "}",
        '{"filters": ' + ALL_TIME + ', "page": 1e300}',
        '{"filters": ' + ALL_TIME + ', "limit": ' + HUGE + "}",
    ],
)  # fmt: skip
async def test_paging_past_64_bits_is_4xx(client: httpx.AsyncClient, text: str) -> None:
    response = await post_raw(client, "/orq/v2/sessions/query", text)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == 3
    legacy = await post_raw(
        client, "/orq/v2/traces/sessions/query", '{"pagination": {"page": ' + HUGE + "}}"
    )
    assert legacy.status_code == 400, legacy.text


@pytest.mark.parametrize(
    "path",
    [
        f"/v1/sessions?limit={HUGE}",
        "/v1/sessions/{sid}/events?after=" + HUGE, "/v1/sessions/{sid}/events?limit=" + HUGE,
        f"/mix/api/sessions/{{sid}}/messages?limit={HUGE}",
    ],
)  # fmt: skip
async def test_query_numbers_past_64_bits_are_4xx(client: httpx.AsyncClient, path: str) -> None:
    sid = (await client.post("/v1/sessions", json={})).json()["id"]
    response = await client.get(path.format(sid=sid))
    assert 400 <= response.status_code < 500, response.text


async def test_an_event_with_counts_past_64_bits_is_422(client: httpx.AsyncClient) -> None:
    sid = (await client.post("/v1/sessions", json={})).json()["id"]
    text = '{"type": "m", "input_tokens": ' + HUGE + "}"
    response = await post_raw(client, f"/v1/sessions/{sid}/events", text)
    assert response.status_code == 422, response.text
    assert (await client.get(f"/v1/sessions/{sid}")).json()["last_seq"] == 0


async def raw_get(app: Any, path: str) -> int:
    """GET ``path`` as an ASGI server would pass it on, lone surrogates and all
    (an HTTP client cannot put one in a URL; a lenient server or a proxy may)."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode("utf-8", "surrogatepass"),
        "root_path": "", "query_string": b"", "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1), "server": ("testserver", 80),
    }  # fmt: skip
    started: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.append(message["status"])

    await app(scope, receive, send)
    return started[0]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/sessions/a\ud800b", "/v1/sessions/a\ud800b/events", "/v1/machines/a\ud800b",
        "/v1/sessions/a\ud800b/events/e\udfff", "/orq/v2/sessions/a\ud800b",
        "/orq/v2/traces/sessions/a\ud800b", "/comfydeploy/api/session/a\ud800b",
        "/mix/api/sessions/a\ud800b", "/jupyter/api/sessions/a\ud800b",
        "/jupyter/api/kernels/a\ud800b",
    ],
)  # fmt: skip
async def test_lookups_by_an_id_with_a_surrogate_are_4xx(app: Any, path: str) -> None:
    assert 400 <= await raw_get(app, path) < 500


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/sessions", b"{}"),
        ("/v1/sessions/{sid}/events", b'{"type": "m"}'),
        ("/v1/sessions/{sid}/events/batch", b'{"events": [{"type": "m"}]}'),
    ],
)
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
async def test_a_body_without_a_json_content_type_is_422_on_every_create(
    client: httpx.AsyncClient, path: str, body: bytes, content_type: str | None
) -> None:
    """As FastAPI reads a body parameter: only ``application/json`` (or ``+json``) is JSON."""
    sid = (await client.post("/v1/sessions", json={})).json()["id"]
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post(path.format(sid=sid), content=body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == (
        "body: Input should be a valid dictionary or object to extract fields from"
    )
    as_json = await client.post(
        path.format(sid=sid), content=body, headers={"content-type": "application/json"}
    )
    assert as_json.status_code == 201, as_json.text


async def test_a_body_that_is_not_utf8_is_echoed_as_text(client: httpx.AsyncClient) -> None:
    """ComfyDeploy's 422 echoes a body that was not JSON; it need not be UTF-8."""
    response = await client.post("/comfydeploy/api/session", content=b"\x80\xff")
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["input"] == "\ufffd\ufffd"
