"""A live sessionhub with the Jupyter dialect and real kernels, on SQLite."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sessionhub.api.app import create_app
from sessionhub.config import Settings
from sessionhub.testing.fixtures import LiveServer

KEY_HEADER = "Authorization"


class Jupyter:
    """The server, its admin key and a client on its Jupyter base URL."""

    def __init__(self, server: LiveServer, key: str) -> None:
        self.server, self.key = server, key
        self.base = f"{server.url}/jupyter/"
        self.http = httpx.Client(
            base_url=self.base, headers={KEY_HEADER: f"token {key}"}, timeout=60
        )

    def kernel_pids(self) -> list[int]:
        driver = self.server.server.config.app.state.hub.service.drivers.get("kernel")
        return [km.provisioner.pid for km in driver.manager._kernels.values()]


def start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], **extra: Any
) -> tuple[LiveServer, str]:
    settings = Settings(
        data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path}/db.sqlite",
        no_auth=False, log_format="text", **extra,
    )  # fmt: skip
    server = LiveServer(create_app(settings)).__enter__()
    out = capsys.readouterr().out
    key = next(line.split(": ", 1)[1] for line in out.splitlines() if "admin API key" in line)
    return server, key


@pytest.fixture
def jupyter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Jupyter]:
    server, key = start(tmp_path, capsys)
    hub = Jupyter(server, key)
    try:
        yield hub
    finally:
        hub.http.close()
        server.__exit__(None, None, None)


def no_kernel_processes_left(pids: list[int]) -> bool:
    alive = subprocess.run(["ps", "-o", "pid=", "-p", ",".join(map(str, pids))],
                           capture_output=True, text=True).stdout.split()  # fmt: skip
    return not alive
