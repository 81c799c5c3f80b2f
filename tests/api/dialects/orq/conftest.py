"""A live sessionhub with API-key auth, on SQLite and on PostgreSQL (``database_url``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sessionhub.api.app import create_app
from sessionhub.config import Settings
from sessionhub.store.sql.store import open_store
from sessionhub.testing.fixtures import LiveServer


@dataclass
class OrqServer:
    url: str
    key: str
    other_key: str  # a key of another workspace
    workspace_id: str  # the workspace of ``key``

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


async def _seed(url: str) -> tuple[str, str, str]:
    store = open_store(url)
    await store.open()
    try:
        ws = (await store.create_workspace(name="default")).id
        other = (await store.create_workspace(name="other")).id
        key = await store.create_key(workspace_id=ws, name="orq", admin=False)
        stranger = await store.create_key(workspace_id=other, name="other", admin=False)
        return key.secret, stranger.secret, ws
    finally:
        await store.close()


@pytest.fixture
def orq_server(database_url: str, tmp_path: Path) -> Iterator[OrqServer]:
    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, no_auth=False,
        log_format="text",
    )  # fmt: skip
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key, other, workspace = asyncio.run(_seed(settings.resolved_database_url))
    with LiveServer(create_app(settings)) as server:
        yield OrqServer(server.url, key, other, workspace)
