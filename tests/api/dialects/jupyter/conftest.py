"""A live sessionhub with the Jupyter dialect and real kernels, on SQLite."""

from __future__ import annotations

import contextlib
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


def settings_for(tmp_path: Path, database_url: str | None = None, **extra: Any) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", database_url=database_url or f"sqlite:///{tmp_path}/db.sqlite",
        no_auth=False, log_format="text", **extra,
    )  # fmt: skip


def start(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    settings: Settings | None = None,
    **extra: Any,
) -> tuple[LiveServer, str]:
    server = LiveServer(create_app(settings or settings_for(tmp_path, **extra))).__enter__()
    out = capsys.readouterr().out
    key = next(line.split(": ", 1)[1] for line in out.splitlines() if "admin API key" in line)
    return server, key


class Servers:
    """Live servers on one database and data dir, started and stopped by a test."""

    def __init__(self, settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
        self.settings, self.capsys = settings, capsys
        self.key = ""
        self.running: list[Jupyter] = []

    def start(self, **changes: Any) -> Jupyter:
        settings = self.settings.model_copy(update=changes)
        server = LiveServer(create_app(settings)).__enter__()
        out = self.capsys.readouterr().out
        for line in out.splitlines():
            if "admin API key" in line:
                self.key = line.split(": ", 1)[1]
        hub = Jupyter(server, self.key)
        self.running.append(hub)
        return hub

    def stop(self, hub: Jupyter) -> None:
        self.running.remove(hub)
        hub.http.close()
        hub.server.__exit__(None, None, None)

    def close(self) -> None:
        for hub in list(self.running):
            self.stop(hub)


@pytest.fixture
def servers(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> Iterator[Servers]:
    """Start servers on SQLite, then on PostgreSQL (the ``database_url`` parameter)."""
    made = Servers(settings_for(tmp_path, database_url), capsys)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def sqlite_servers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Servers]:
    made = Servers(settings_for(tmp_path), capsys)
    try:
        yield made
    finally:
        made.close()


@contextlib.contextmanager
def running(tmp_path: Path, capsys: pytest.CaptureFixture[str], **extra: Any) -> Iterator[Jupyter]:
    """A live server (settings ``extra``) and an HTTP client with its admin key."""
    server, key = start(tmp_path, capsys, **extra)
    hub = Jupyter(server, key)
    try:
        yield hub
    finally:
        hub.http.close()
        server.__exit__(None, None, None)


@pytest.fixture
def jupyter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Jupyter]:
    with running(tmp_path, capsys) as hub:
        yield hub


def no_kernel_processes_left(pids: list[int]) -> bool:
    alive = subprocess.run(["ps", "-o", "pid=", "-p", ",".join(map(str, pids))],
                           capture_output=True, text=True).stdout.split()  # fmt: skip
    return not alive
