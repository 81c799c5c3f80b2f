"""A live server with two workspaces: the attacker's (A, driving the agent through the
real Mix SDK and a scripted fake provider) and a victim's (B, with an uploaded secret).

The server's process environment carries a marker provider key, as a real deployment's
would. The sandbox is whatever ``SESSIONHUB_TEST_SANDBOX`` says (``auto`` by default), so
running this suite once with ``SESSIONHUB_TEST_SANDBOX=none`` shows which checks guard
the boundary (they fail then, each named)."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from sessionhub.api.app import create_app
from sessionhub.config import Settings
from sessionhub.execution.limits import DISCARD_PATIENCE, Cgroups
from sessionhub.store.base import SessionStore
from sessionhub.store.sql.store import open_store
from sessionhub.testing import sdkenv
from sessionhub.testing.fixtures import LiveServer
from tests.api.dialects.mix.conftest import SDK, Harness
from tests.api.dialects.mix.fake_llm import FakeLLM

MARKER = f"sk-server-secret-{uuid.uuid4().hex}"
SECRET = f"beta-secret-{uuid.uuid4().hex}"


@dataclass
class Tenants:
    harness: Harness
    settings: Settings
    victim_file: Path  # workspace B's uploaded file, on the host
    port: int

    def native(self, key: str | None = None) -> httpx.Client:
        token = key or self.harness.key
        return httpx.Client(base_url=self.harness.server.url,
                            headers={"Authorization": f"Bearer {token}"}, timeout=30)  # fmt: skip


async def _keys(settings: Settings) -> tuple[str, str]:
    store = open_store(settings.resolved_database_url)
    await store.open()
    try:
        alpha_key, beta_key, _ = await two_workspaces(store)
        return alpha_key, beta_key
    finally:
        await store.close()


async def two_workspaces(store: SessionStore) -> tuple[str, str, str]:
    """Workspaces ``default`` (alpha) and ``beta``, an admin key each: the two keys'
    secrets and alpha's id."""
    alpha = await store.create_workspace(name="default")
    beta = await store.create_workspace(name="beta")
    a = await store.create_key(workspace_id=alpha.id, name="alpha-admin", admin=True)
    b = await store.create_key(workspace_id=beta.id, name="beta-admin", admin=True)
    return a.secret, b.secret, alpha.id


def upload_victim_secret(url: str, key: str, files_dir: Path) -> Path:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as http:
        made = http.post("/v1/sessions", json={"kind": "generic"})
        assert made.status_code == 201, made.text
        sid = made.json()["id"]
        put = http.put(f"/v1/sessions/{sid}/files/secret.txt", content=SECRET.encode())
        assert put.status_code == 201, put.text
    (found,) = files_dir.rglob("secret.txt")
    return found


@pytest.fixture(scope="session")
def mix_python() -> Path:
    return sdkenv.python_env("mix", SDK)


@pytest.fixture
def sandbox_settings() -> dict[str, Any]:
    """Extra settings for the server (parametrize to change)."""
    return {}


@pytest.fixture
def tenants(
    tmp_path: Path, database_url: str, mix_python: Path, script: list[dict[str, Any]],
    sandbox_settings: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Tenants]:  # fmt: skip
    monkeypatch.setenv("SESSIONHUB_AGENT_API_KEY", MARKER)
    with FakeLLM(script) as llm:
        settings = Settings(
            data_dir=tmp_path / "data", database_url=database_url, no_auth=False,
            log_format="text", agent_base_url=llm.url, agent_model="fake-model",
            sandbox=os.environ.get("SESSIONHUB_TEST_SANDBOX", "auto"), sandbox_memory_mb=256, sandbox_processes=64, sandbox_disk_mb=2,
            **sandbox_settings,
        )  # fmt: skip
        assert settings.agent_api_key == MARKER
        key_a, key_b = asyncio.run(_keys(settings))
        with LiveServer(create_app(settings)) as server:
            victim = upload_victim_secret(server.url, key_b, settings.files_dir)
            port = int(server.url.rsplit(":", 1)[1])
            yield Tenants(Harness(server, key_a, mix_python, llm), settings, victim, port)


def no_cgroup_left() -> None:
    """Every process tree's cgroup goes when the tree ends (waited for as long as the
    server keeps trying, `DISCARD_PATIENCE`). Only this process's: other test runs
    on the machine share the parent cgroups. A failure names what is still inside."""
    parents = Cgroups.find().parents.values()
    deadline = time.monotonic() + DISCARD_PATIENCE + 2
    while left := [c for p in parents for c in p.glob(f"run-{os.getpid()}-*")]:
        if time.monotonic() > deadline:
            inside = {c.name: (c / "cgroup.procs").read_text().split() for c in left}
            raise AssertionError(f"cgroups left behind, with these pids in them: {inside}")
        time.sleep(0.1)
