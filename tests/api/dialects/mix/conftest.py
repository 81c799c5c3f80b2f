"""A live sessionhub with the Mix dialect, a scripted fake LLM, and the real SDK in its own env."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sessionhub.api.app import create_app
from sessionhub.config import Settings
from sessionhub.store.sql.store import open_store
from sessionhub.testing import sdkenv
from sessionhub.testing.fixtures import LiveServer
from tests.api.dialects.mix.fake_llm import FakeLLM

HERE = Path(__file__).parent
SDK = ["mix-python-sdk==0.8.1"]


async def _admin_key(settings: Settings) -> str:
    store = open_store(settings.resolved_database_url)
    await store.open()
    try:
        workspace = await store.create_workspace(name="default")
        return (await store.create_key(workspace_id=workspace.id, name="t", admin=True)).secret
    finally:
        await store.close()


class Harness:
    def __init__(self, server: LiveServer, key: str, python: Path, llm: FakeLLM) -> None:
        self.url, self.key, self.python, self.llm = f"{server.url}/mix", key, python, llm
        self.server = server

    def run(self, scenario: str, **args: Any) -> dict[str, Any]:
        command = [str(self.python), str(HERE / "mix_client.py"), self.url, self.key, scenario,
                   json.dumps(args)]  # fmt: skip
        done = sdkenv.run(command, timeout=120)
        assert done.returncode == 0, done.stderr[-4000:]
        result: dict[str, Any] = json.loads(done.stdout)
        return result


@pytest.fixture(scope="session")
def mix_python() -> Path:
    return sdkenv.python_env("mix", SDK)


@pytest.fixture
def script() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def agent_stream() -> bool:
    """Whether the agent asks the provider for streamed replies (parametrize to change)."""
    return True


@pytest.fixture
def harness(
    tmp_path: Path, database_url: str, mix_python: Path, script: list[dict[str, Any]],
    agent_stream: bool,
) -> Iterator[Harness]:  # fmt: skip
    """A live server on SQLite and on PostgreSQL (``database_url`` is parametrized)."""
    with FakeLLM(script) as llm:
        settings = Settings(
            data_dir=tmp_path / "data", database_url=database_url,
            no_auth=False, log_format="text", heartbeat_interval=2.0,
            agent_base_url=llm.url, agent_model="fake-model", agent_stream=agent_stream,
            agent_prompt_variables={"project": "apollo"},
        )  # fmt: skip
        key = asyncio.run(_admin_key(settings))
        with LiveServer(create_app(settings)) as server:
            yield Harness(server, key, mix_python, llm)
