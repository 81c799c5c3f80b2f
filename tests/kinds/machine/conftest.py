"""A live server (SQLite and PostgreSQL) with an admin key and two tiny-server machines."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sessionhub import Client
from sessionhub.api.app import create_app
from sessionhub.config import Settings
from sessionhub.domain.machines import MachineCreate
from sessionhub.store.sql.store import open_store
from sessionhub.testing.fixtures import LiveServer
from tests.kinds.machine.support import TINY

MACHINES = [
    MachineCreate(name="tiny", command=TINY, max_sessions=2, probe="http:/", startup_timeout=20),
    MachineCreate(name="solo", command=TINY, max_sessions=1, startup_timeout=20),
]


@dataclass
class MachineHub:
    url: str
    key: str
    workspace_id: str

    def client(self) -> Client:
        return Client(base_url=self.url, api_key=self.key)


async def _seed(url: str) -> tuple[str, str]:
    store = open_store(url)
    await store.open()
    try:
        ws = (await store.create_workspace(name="default")).id
        key = await store.create_key(workspace_id=ws, name="test", admin=True)
        for spec in MACHINES:
            await store.create_machine(workspace_id=ws, spec=spec, host=True)
        return key.secret, ws
    finally:
        await store.close()


@pytest.fixture
def machine_hub(database_url: str, tmp_path: Path) -> Iterator[MachineHub]:
    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, no_auth=False,
        log_format="text", reaper_interval=0.5,
    )  # fmt: skip
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key, ws = asyncio.run(_seed(settings.resolved_database_url))
    with LiveServer(create_app(settings)) as server:
        yield MachineHub(server.url, key, ws)
