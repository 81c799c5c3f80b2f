"""A SessionService over the ``store`` fixture (SQLite and PostgreSQL), wired as a
server wires it: the store's change notifications feed the service's event bus."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sessionhub.core.bus import EventBus
from sessionhub.core.registry import DriverRegistry
from sessionhub.core.runs import RunSupervisor
from sessionhub.core.service import SessionService
from sessionhub.files import SessionFiles
from sessionhub.store.base import SessionStore


@contextmanager
def service_over(
    store: SessionStore, files_dir: Path, cls: type[SessionService] = SessionService
) -> Iterator[SessionService]:
    bus = EventBus()
    unsubscribe = store.subscribe(bus.notify)
    try:
        yield cls(
            store=store, files=SessionFiles(files_dir, max_file_bytes=1 << 20), bus=bus,
            drivers=DriverRegistry.from_entry_points([]), runs=RunSupervisor(store),
        )  # fmt: skip
    finally:
        unsubscribe()


@pytest.fixture
async def service(store: SessionStore, tmp_path: Path) -> AsyncIterator[SessionService]:
    with service_over(store, tmp_path / "files") as opened:
        yield opened


@pytest.fixture
async def workspace_id(store: SessionStore) -> str:
    return (await store.create_workspace(name="follow")).id
