"""Fixtures: databases (SQLite and PostgreSQL), in-process apps, live servers.

``database_url`` is the one parametrized fixture: every test that uses it,
directly or through ``store``/``client``, runs once on SQLite and once on
PostgreSQL (a fresh database per test). Set ``SESSIONHUB_TEST_POSTGRES_URL`` to
point at another server, or ``SESSIONHUB_TEST_SKIP_POSTGRES=1`` to skip those.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from sessionhub.config import Settings
from sessionhub.core.ports import Driver
from sessionhub.store.base import SessionStore
from sessionhub.testing.drivers import WaitingDriver

PG_ADMIN_URL = os.environ.get(
    "SESSIONHUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _pg_params() -> list[Any]:
    skip = os.environ.get("SESSIONHUB_TEST_SKIP_POSTGRES") == "1"
    marks = [pytest.mark.postgres]
    if skip:
        marks.append(pytest.mark.skip(reason="SESSIONHUB_TEST_SKIP_POSTGRES=1"))
    return ["sqlite", pytest.param("postgres", marks=marks)]


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _run_admin(sql: str) -> None:
    """``_pg_admin`` to its end; on a thread of its own when this one runs an event loop
    already (Playwright's sync API keeps one running in the browser tests)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(_pg_admin(sql))
        return
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _pg_admin(sql)).result()


def create_pg_database() -> str:
    name = f"sessionhub_test_{uuid.uuid4().hex[:12]}"
    _run_admin(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    _run_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=_pg_params())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sessionhub.db'}"
        return
    url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database, whatever ``database_url`` is."""
    if os.environ.get("SESSIONHUB_TEST_SKIP_POSTGRES") == "1":
        pytest.skip("SESSIONHUB_TEST_SKIP_POSTGRES=1")
    url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SessionStore]:
    from sessionhub.store.sql.store import open_store

    opened = open_store(database_url)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", database_url=database_url, no_auth=True,
        log_format="text", reaper_interval=0.2, heartbeat_interval=1.0,
    )  # fmt: skip


@pytest.fixture
def test_drivers() -> list[Driver]:
    return [WaitingDriver()]


@pytest.fixture
async def app(settings: Settings, test_drivers: list[Driver]) -> AsyncIterator[Any]:
    from sessionhub.api.app import create_app

    application = create_app(settings, drivers=test_drivers)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveServer:
    """A real uvicorn on 127.0.0.1 and a free port, in a thread of this process,
    configured as ``sessionhub serve`` configures it."""

    def __init__(self, app: Any) -> None:
        from sessionhub.serving import uvicorn_options

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, lifespan="on", **uvicorn_options()
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the live server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def live_server(settings: Settings, test_drivers: list[Driver]) -> Iterator[LiveServer]:
    from sessionhub.api.app import create_app

    with LiveServer(create_app(settings, drivers=test_drivers)) as server:
        yield server
