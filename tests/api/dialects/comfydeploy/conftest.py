"""A live server with an API key and machines whose command is a tiny HTTP server
(``tests.kinds.machine.support``, shared with the machine kind's own tests)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from sessionhub.config import Settings
from sessionhub.domain.machines import MachineCreate
from sessionhub.domain.models import SessionQuery
from sessionhub.store.sql.store import open_store
from sessionhub.testing import sdkenv
from sessionhub.testing.fixtures import LiveServer
from tests.kinds.machine.support import TINY, gone, wait_for

HERE = Path(__file__).parent
FAMILY = (
    'sh -c \'echo "$MODE" > "{session_dir}/mode.txt"; sleep 600 & '
    f'echo $! > "{{session_dir}}/child.pid"; exec {TINY}\''
)
SDK = ["comfydeploy==0.6.3", "pydantic<2.11", "httpx<0.29"]
MACHINES = {
    "tiny": MachineCreate(name="tiny", command=TINY, gpu="A10G", price_per_hour=36.0,
                          max_sessions=3, probe="http:/", startup_timeout=20),
    "slow": MachineCreate(name="slow", command=TINY + " 1.5", gpu="T4", max_sessions=3,
                          probe="tcp", startup_timeout=20),
    "solo": MachineCreate(name="solo", command=TINY, max_sessions=1, startup_timeout=20),
    # {session_dir} and env filled in; a background child shares the leader's process group
    "family": MachineCreate(name="family", command=FAMILY, env={"MODE": "family-mode"}, gpu="L4",
                            price_per_hour=3.6,
                            max_sessions=2, probe="http:/", startup_timeout=20),
    "broken": MachineCreate(name="broken", command=f"{sys.executable} -c 'raise SystemExit(3)'"),
}  # fmt: skip


def make_settings(tmp: Path) -> Settings:
    return Settings(
        data_dir=tmp, database_url=f"sqlite:///{tmp}/db.sqlite", no_auth=False,
        log_format="text", reaper_interval=0.5,
    )  # fmt: skip


async def _pids(settings: Settings) -> list[int]:
    """Every process any machine session of the database has recorded."""
    store = open_store(settings.resolved_database_url)
    await store.open()
    try:
        ws = await store.get_workspace(name="default")
        assert ws is not None
        page = await store.list_sessions(
            workspace_id=ws.id, query=SessionQuery(kind="machine", limit=1000)
        )
        return [s.attributes["pid"] for s in page.items if "pid" in s.attributes]
    finally:
        await store.close()


async def _seed(settings: Settings) -> tuple[str, dict[str, str]]:
    store = open_store(settings.resolved_database_url)
    await store.open()
    try:
        ws = (await store.create_workspace(name="default")).id
        key = await store.create_key(workspace_id=ws, name="test", admin=True)
        made = {n: (await store.create_machine(workspace_id=ws, spec=s, host=True)).id
                for n, s in MACHINES.items()}  # fmt: skip
        return key.secret, made
    finally:
        await store.close()


def seed(settings: Settings) -> tuple[str, dict[str, str]]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return asyncio.run(_seed(settings))


@dataclass
class Comfy:
    base: str
    token: str
    machines: dict[str, str]
    python: Path
    pids: list[int] = field(default_factory=list)

    @property
    def api(self) -> str:
        return f"{self.base}/comfydeploy/api"

    def sdk(
        self, *plan: tuple[str, dict[str, Any]], token: str | None = None
    ) -> list[dict[str, Any]]:
        bearer = self.token if token is None else token
        done = sdkenv.run([str(self.python), str(HERE / "sdk_ops.py"), self.api, bearer,
                           json.dumps(plan)], timeout=90)  # fmt: skip
        assert done.returncode == 0, done.stderr
        results: list[dict[str, Any]] = json.loads(done.stdout)
        return results

    def native(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.request(method, self.base + path, headers=headers, timeout=30, **kwargs)

    def attributes(self, session_id: str) -> dict[str, Any]:
        response = self.native("GET", f"/v1/sessions/{session_id}")
        assert response.status_code == 200, response.text
        attrs: dict[str, Any] = response.json()["attributes"]
        if isinstance(attrs.get("pid"), int) and attrs["pid"] not in self.pids:
            self.pids.append(attrs["pid"])
        return attrs


@pytest.fixture(scope="session")
def sdk_python() -> Path:
    return sdkenv.python_env("comfydeploy-0.6.3", SDK)


@pytest.fixture
def comfy(tmp_path: Path, sdk_python: Path) -> Iterator[Comfy]:
    from sessionhub.api.app import create_app

    settings = make_settings(tmp_path)
    token, machines = seed(settings)
    with LiveServer(create_app(settings)) as server:
        env = Comfy(server.url, token, machines, sdk_python)
        yield env
    for pid in asyncio.run(_pids(settings)):
        assert wait_for(lambda p=pid: gone(p), 10), f"machine process {pid} outlived the server"
