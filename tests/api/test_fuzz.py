"""Malformed input over every route of every surface: never a 5xx, never a hang.

The routes come from the OpenAPI documents of the server and of each mounted
dialect, so a new route is fuzzed without touching this file. Bodies are raw JSON
text (so ``NaN``, ``Infinity``, lone UTF-16 surrogates and integers past 64 bits
reach the server as a client would send them), shaped by the route's own body
schema (its fields, some missing, some extra, with wrong types) or not at all
(garbage bytes, deep nesting), under odd content types. Runs in process through
``httpx.ASGITransport`` on SQLite and PostgreSQL, derandomized, with a fixed budget.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_from_bytes, unquote

import anyio
import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI
from hypothesis import HealthCheck, given
from hypothesis import settings as budget
from hypothesis import strategies as st
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from sessionhub.api.app import create_app
from sessionhub.config import Settings

EXAMPLES = 3000  # per database: about half a minute each on a busy two-core machine
REQUEST_SECONDS = 30.0  # longer than any honest answer (a kernel start), shorter than a hang
METHODS = ("get", "post", "put", "patch", "delete")
CONTENT_TYPES = (
    None, "application/json", "text/plain", "application/x-www-form-urlencoded",
    "multipart/form-data", "application/octet-stream", "application/json; charset=utf-16",
    "application/merge-patch+json", "application/json;;;", "*/*",
)  # fmt: skip


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # with {name} placeholders
    query: tuple[str, ...]
    fields: tuple[str, ...]  # the body's top-level property names, if it is a JSON object

    @property
    def streams(self) -> bool:
        return self.path.rstrip("/").endswith("stream")


class Raw(str):
    """JSON text written as it is: ``NaN``, ``Infinity``, a number past 64 bits."""


def routes_of(app: FastAPI) -> list[Route]:
    """Every HTTP operation of the server and of each dialect mounted in it."""
    mounted = [("", app)] + [(r.path, r.app) for r in app.routes if isinstance(r, Mount)]
    found: list[Route] = []
    for prefix, sub in mounted:
        if isinstance(sub, FastAPI):
            found += operations(prefix, sub.openapi())
    return found


def operations(prefix: str, document: dict[str, Any]) -> Iterator[Route]:
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                op = item[method]
                query = tuple(p["name"] for p in op.get("parameters", []) if p["in"] == "query")
                yield Route(method, prefix + path, query, body_fields(document, op))


def body_fields(document: dict[str, Any], op: dict[str, Any]) -> tuple[str, ...]:
    content = op.get("requestBody", {}).get("content", {})
    schema = next(iter(content.values()), {}).get("schema", {})
    for _ in range(5):  # follow $ref (and a single allOf/anyOf arm) to the object
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = document.get("components", {}).get("schemas", {}).get(name, {})
        elif arms := schema.get("allOf") or schema.get("anyOf") or schema.get("oneOf"):
            schema = arms[0]
    return tuple(schema.get("properties", {}))


def to_json(value: Any) -> str:
    """JSON text, with `Raw` literals kept and strings escaped as ASCII (a lone
    surrogate becomes the ``\\udXXX`` escape a client would send)."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{to_json(str(k))}:{to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=True)


UNSTORABLE = st.sampled_from(["\ud800", "a\udfffb", "a\x00b", "\udbff\udbff"])
ODD_TEXT = UNSTORABLE | st.text(st.characters() | st.sampled_from("\x00\ud800\udc00"), max_size=12)
ODD_NUMBERS = st.one_of(
    st.sampled_from([Raw("NaN"), Raw("Infinity"), Raw("-Infinity"), Raw("1e400")]),
    st.integers(min_value=2**63 - 2, max_value=2**70).map(lambda n: Raw(str(n))),
    st.integers(min_value=-(2**70), max_value=-(2**63) + 2).map(lambda n: Raw(str(n))),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-3, max_value=1000),
)
LEAVES = st.one_of(st.none(), st.booleans(), ODD_TEXT, ODD_NUMBERS)
VALUES = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ODD_TEXT, inner, max_size=3),
    max_leaves=8,
)
DEEP = st.integers(min_value=50, max_value=5000).flatmap(
    lambda n: st.sampled_from([Raw("[" * n + "]" * n), Raw('{"a":' * n + "1" + "}" * n)])
)


@st.composite
def bodies(draw: st.DrawFn, route: Route) -> bytes | None:
    """No body, garbage, deep nesting, any JSON, or an object of the route's own
    fields (each present or not, valued by anything) plus maybe an extra one."""
    shape = draw(st.sampled_from(["none", "bytes", "deep", "any", "fields", "fields"]))
    if shape == "none":
        return None
    if shape == "bytes":
        return draw(st.binary(max_size=40))
    if shape == "deep":
        return to_json(draw(DEEP)).encode()
    if shape == "any":
        return to_json(draw(VALUES)).encode()
    chosen = draw(st.lists(st.sampled_from(route.fields), unique=True)) if route.fields else []
    body = {name: draw(LEAVES | VALUES | DEEP) for name in chosen}
    if draw(st.booleans()):
        body[draw(ODD_TEXT)] = draw(VALUES)
    return to_json(body).encode()


def percent_encoded(text: str) -> str:
    return quote_from_bytes(text.encode("utf-8", "surrogatepass"), safe="")


QUERY_VALUES = st.one_of(
    ODD_TEXT.map(percent_encoded),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1", "0", "true", ""]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    body: bytes | None
    content_type: str | None


@st.composite
def calls(draw: st.DrawFn, routes: list[Route], known_ids: list[str]) -> Call:
    route = draw(st.sampled_from(routes))
    ids = st.sampled_from(known_ids) if known_ids and not route.streams else st.nothing()
    url = route.path
    while "{" in url:
        start, end = url.index("{"), url.index("}")
        url = url[:start] + draw(ids | ODD_TEXT.filter(bool).map(percent_encoded)) + url[end + 1 :]
    names = st.sampled_from(route.query) | ODD_TEXT.filter(bool) if route.query else ODD_TEXT
    query = draw(st.lists(st.tuples(names.map(percent_encoded), QUERY_VALUES), max_size=4))
    if query:
        url += "?" + "&".join(f"{name}={value}" for name, value in query)
    body = draw(bodies(route))
    return Call(route.method.upper(), url, body, draw(st.sampled_from(CONTENT_TYPES)))


async def send(client: httpx.AsyncClient, call: Call) -> httpx.Response:
    headers = {"content-type": call.content_type} if call.content_type else {}
    with anyio.fail_after(REQUEST_SECONDS):
        return await client.request(call.method, call.url, content=call.body, headers=headers)


def kernel_name_unknown(response: httpx.Response) -> bool:
    """Jupyter Server's own answer to an unknown kernel name is a 501; the SDKs expect it."""
    return response.status_code == 501 and "short_message" in response.json()


def surrogates_kept(app: ASGIApp) -> ASGIApp:
    """``app`` behind a server that decodes the path leniently, so ``%ED%A0%80`` reaches
    it as a lone surrogate (an HTTP client cannot send one any other way)."""

    async def lenient(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["raw_path"].decode("ascii").partition("?")[0]
            scope = {**scope, "path": unquote(path, errors="surrogatepass")}
        await app(scope, receive, send)

    return lenient


@pytest.fixture
def portal() -> Iterator[BlockingPortal]:
    with start_blocking_portal() as running:
        yield running


@dataclass(frozen=True)
class Served:
    app: FastAPI
    client: httpx.AsyncClient


@pytest.fixture
def served(portal: BlockingPortal, settings: Settings) -> Iterator[Served]:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=surrogates_kept(app), raise_app_exceptions=False)
    http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    with (
        portal.wrap_async_context_manager(app.router.lifespan_context(app)),
        portal.wrap_async_context_manager(http),
    ):
        yield Served(app, http)


def known_session_ids(portal: BlockingPortal, client: httpx.AsyncClient) -> list[str]:
    """Sessions that exist, so requests also reach past the lookup."""
    made = [
        portal.call(lambda kind=kind: client.post("/v1/sessions", json={"kind": kind}))
        for kind in ("generic", "trace", "agent")
    ]
    return [response.json()["id"] for response in made]


def test_no_input_gets_a_5xx_or_hangs(portal: BlockingPortal, served: Served) -> None:
    routes = routes_of(served.app)
    assert len(routes) > 60 and {r.path.split("/")[1] for r in routes} >= {
        "v1", "mix", "jupyter", "orq", "comfydeploy",
    }  # fmt: skip
    known = known_session_ids(portal, served.client)

    @given(call=calls(routes, known))
    @budget(
        max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    def no_server_error(call: Call) -> None:
        response = portal.call(send, served.client, call)
        assert response.status_code < 500 or kernel_name_unknown(response), (
            call, response.status_code, response.text[:500],
        )  # fmt: skip

    no_server_error()
