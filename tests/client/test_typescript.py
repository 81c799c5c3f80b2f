"""The TypeScript client (clients/typescript): current, type-correct, and working under Node.

Its types are openapi-typescript's, generated from the app's OpenAPI document; its
requests are openapi-fetch's. The pinned npm packages come from its package.json and
are installed once into the shared test environments (``sessionhub.testing.sdkenv``).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from sessionhub.testing import sdkenv
from sessionhub.testing.fixtures import LiveServer

ROOT = Path(__file__).parents[2]
CLIENT = ROOT / "clients" / "typescript"

pytestmark = pytest.mark.slow


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ts_generate", CLIENT / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def node_modules() -> Path:
    """The client's pinned dependencies (package.json), installed once."""
    manifest = json.loads((CLIENT / "package.json").read_text())
    pins = {**manifest["dependencies"], **manifest["devDependencies"]}
    return sdkenv.node_project("typescript-client", pins) / "node_modules"


def client_copy(tmp_path: Path) -> Path:
    """The client's committed files with the installed node_modules beside them."""
    copy = tmp_path / "typescript"
    shutil.copytree(CLIENT, copy, ignore=shutil.ignore_patterns("node_modules"))
    (copy / "node_modules").symlink_to(node_modules())
    return copy


def refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(refs(value) for value in node))
    return set()


def test_the_committed_document_and_types_are_current(tmp_path: Path) -> None:
    gen = generator()
    document = gen.app_document()
    assert (CLIENT / "openapi.json").read_text() == gen.document_text(document), (
        "clients/typescript/openapi.json is stale: run clients/typescript/generate.py"
    )
    schemas = document["components"]["schemas"]
    assert {ref.rsplit("/", 1)[1] for ref in refs(document)} <= set(schemas)  # no dangling $ref
    fresh = tmp_path / "schema.d.ts"
    gen.generate(document, node_modules(), fresh)
    assert (CLIENT / "src" / "schema.d.ts").read_text() == fresh.read_text(), (
        "clients/typescript/src/schema.d.ts is stale: run clients/typescript/generate.py"
    )


def test_the_types_check_and_refuse_wrong_calls(tmp_path: Path) -> None:
    copy = client_copy(tmp_path)
    tsc = copy / "node_modules" / "typescript" / "bin" / "tsc"
    done = sdkenv.run(["node", str(tsc), "-p", str(copy)], cwd=copy)
    # examples/usage.ts holds @ts-expect-error lines: tsc fails if a wrong call type-checks
    assert done.returncode == 0, done.stdout + done.stderr


SCRIPT = """
import { createSessionHubClient } from "./src/index.js";

const hub = createSessionHubClient({ baseUrl: process.argv[2], apiKey: "unused-without-auth" });
const must = (result) => {
  if (result.error) throw new Error(JSON.stringify(result.error));
  return result.data;
};
const session = must(await hub.POST("/v1/sessions", {
  body: { title: "from node", metadata: { team: "ts" } },
}));
const path = { session_id: session.id };
const one = must(await hub.POST("/v1/sessions/{session_id}/events", {
  params: { path }, body: { type: "message", role: "user", payload: { text: "hi" } },
}));
const batch = must(await hub.POST("/v1/sessions/{session_id}/events/batch", {
  params: { path },
  body: { events: [{ type: "message", role: "assistant", payload: { text: "hello" } },
                   { type: "note", payload: { n: 3 } }] },
}));
const page = must(await hub.GET("/v1/sessions/{session_id}/events", {
  params: { path, query: { limit: 2 } },
}));
const rest = must(await hub.GET("/v1/sessions/{session_id}/events", {
  params: { path, query: { after: page.items.at(-1).seq } },
}));
const read = must(await hub.GET("/v1/sessions/{session_id}", { params: { path } }));
const listed = must(await hub.GET("/v1/sessions", {}));
const missing = await hub.GET("/v1/sessions/{session_id}", {
  params: { path: { session_id: "no-such-session" } },
});
console.log(JSON.stringify({
  session, one, batch, page, rest, read, listed,
  missing: { status: missing.response.status, error: missing.error, type: missing.response.headers.get("content-type") },
}));
"""


def test_node_drives_a_live_server(tmp_path: Path, live_server: LiveServer) -> None:
    copy = client_copy(tmp_path)
    script = copy / "drive.mjs"
    script.write_text(SCRIPT)
    done = sdkenv.run(["node", str(script), live_server.url], cwd=copy)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    sid = out["session"]["id"]
    assert out["session"]["title"] == "from node" and out["session"]["metadata"] == {"team": "ts"}
    assert out["one"]["seq"] == 1 and out["one"]["session_id"] == sid
    assert [e["seq"] for e in out["batch"]["items"]] == [2, 3]
    assert [e["payload"] for e in out["page"]["items"]] == [{"text": "hi"}, {"text": "hello"}]
    assert [e["payload"] for e in out["rest"]["items"]] == [{"n": 3}]
    assert out["read"]["id"] == sid and out["read"]["totals"]["events"] == 3
    assert sid in [s["id"] for s in out["listed"]["items"]]
    assert out["missing"]["status"] == 404
    assert out["missing"]["type"] == "application/problem+json"
    assert out["missing"]["error"]["status"] == 404
