"""Tenant escape through a machine a workspace admin registers over HTTP: its command
runs in the sandbox (here with the operator's network on, which a machine needs to
serve its port), with its own environment; without a network, or without any sandbox,
starting it answers a clear 503 naming the fixes."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sessionhub.api.app import create_app
from sessionhub.config import Settings
from sessionhub.testing.fixtures import LiveServer
from tests.execution.conftest import MARKER, SECRET, _keys, upload_victim_secret

SPY = (
    "import os, sys, http.server as h; r = open(sys.argv[2] + '/report.txt', 'w'); "
    "r.write(repr(sorted(os.environ.items()))); r.write(VICTIM); r.close(); "
    "h.HTTPServer(('127.0.0.1', int(sys.argv[1])), h.SimpleHTTPRequestHandler).serve_forever()"
)
STEAL = "'|'.join(open(p).read() for p in [%r] if os.access(p, os.R_OK))"


def spy_command(victim: Path) -> str:
    code = SPY.replace("VICTIM", STEAL % str(victim))
    return f'python3 -c "{code}" {{port}} {{session_dir}}'


class Server:
    def __init__(self, url: str, key: str, victim: Path) -> None:
        self.url, self.key, self.victim = url, key, victim

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30,
                            headers={"Authorization": f"Bearer {self.key}"})  # fmt: skip


@pytest.fixture
def server(
    tmp_path: Path, database_url: str, request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Server]:  # fmt: skip
    """``request.param``: extra settings; ``{"PATH": dir}`` hides ``bwrap``."""
    extra: dict[str, Any] = dict(getattr(request, "param", {}))
    if "PATH" in extra:
        monkeypatch.setenv("PATH", extra.pop("PATH"))
    monkeypatch.setenv("SESSIONHUB_AGENT_API_KEY", MARKER)
    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, no_auth=False,
        log_format="text", sandbox=os.environ.get("SESSIONHUB_TEST_SANDBOX", "auto"), **extra,
    )  # fmt: skip
    key_a, key_b = asyncio.run(_keys(settings))
    with LiveServer(create_app(settings)) as live:
        victim = upload_victim_secret(live.url, key_b, settings.data_dir)
        yield Server(live.url, key_a, victim)


def start(http: httpx.Client, command: str) -> tuple[str, httpx.Response]:
    made = http.post("/v1/machines", json={"name": "spy", "command": command,
                                           "startup_timeout": 20})  # fmt: skip
    assert made.status_code == 201, made.text
    assert made.json()["host"] is False  # over HTTP: always the sandbox
    session = http.post("/v1/sessions", json={"kind": "machine",
                                              "attributes": {"machine_id": "spy"}})  # fmt: skip
    assert session.status_code == 201, session.text
    sid = session.json()["id"]
    return sid, http.post(f"/v1/sessions/{sid}/runs", json={"input": {}})


def report(http: httpx.Client, sid: str) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        attrs = http.get(f"/v1/sessions/{sid}").json()["attributes"]
        if attrs.get("state") == "ready":
            got = http.get(f"/v1/sessions/{sid}/files/report.txt")
            assert got.status_code == 200, got.text
            return got.text
        time.sleep(0.1)
    raise AssertionError(f"the machine never became ready: {attrs}")


@pytest.mark.parametrize("server", [{"sandbox_network": True}], indirect=True)
def test_a_machine_registered_over_http_sees_only_its_own(server: Server) -> None:
    with server.http() as http:
        assert http.post("/v1/machines", json={"name": "x", "command": "true {port}",
                                               "host": True}).status_code == 422  # fmt: skip
        sid, run = start(http, spy_command(server.victim))
        assert run.status_code == 202, run.text
        seen = report(http, sid)
        http.post(f"/v1/sessions/{sid}/cancel")
    assert "('PORT'," in seen  # positive control: its own variables, its own directory
    broken = [name for name, ok in {
        "no server variable or provider key": MARKER not in seen
        and "SESSIONHUB_AGENT" not in seen,
        "workspace B's file unreadable": SECRET not in seen,
    }.items() if not ok]  # fmt: skip
    assert not broken, f"boundaries broken: {broken}"


def test_a_sandboxed_machine_without_network_is_refused_with_503(server: Server) -> None:
    if os.environ.get("SESSIONHUB_TEST_SANDBOX") == "none":
        pytest.skip("unsandboxed: a machine shares the host's network")
    with server.http() as http:
        _, run = start(http, spy_command(server.victim))
    assert run.status_code == 503, run.text
    detail = run.json()["detail"]
    assert "SESSIONHUB_SANDBOX_NETWORK=true" in detail and "--host" in detail


@pytest.mark.parametrize("server", [{"PATH": "/nonexistent"}], indirect=True)
def test_without_bwrap_running_code_is_a_503_naming_both_fixes(server: Server) -> None:
    with server.http() as http:
        _, run = start(http, spy_command(server.victim))
        assert http.get("/v1/sessions").status_code == 200  # everything else still works
    assert run.status_code == 503, run.text
    assert run.headers["content-type"].startswith("application/problem+json")
    detail = run.json()["detail"]
    assert "apt-get install bubblewrap" in detail and "SESSIONHUB_SANDBOX=none" in detail
