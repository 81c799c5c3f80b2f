"""Browser tests of the web UI: Playwright driving Debian's chromium, headless.

One browser per module; per test a live server (SQLite and PostgreSQL, through
``database_url``) with two workspaces, an admin key for each, a host machine in the
first, and a scripted fake model provider for agent runs. Every page a test opens
collects its console errors and uncaught exceptions; a test ends by asserting none.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from sessionhub.api.app import create_app
from sessionhub.config import Settings
from sessionhub.domain.machines import MachineCreate
from sessionhub.store.sql.store import open_store
from sessionhub.testing.fixtures import LiveServer
from tests.api.dialects.mix.fake_llm import FakeLLM
from tests.execution.conftest import two_workspaces
from tests.kinds.machine.support import TINY

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = os.environ.get("SESSIONHUB_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
TIMEOUT_MS = 20_000  # generous: CI runs the whole suite on a loaded 2-core machine
playwright_api.expect.set_options(timeout=TIMEOUT_MS)
T = TypeVar("T")


@dataclass
class UiHub:
    url: str
    key: str  # workspace A's admin key
    other_key: str  # workspace B's admin key
    llm: FakeLLM
    settings: Settings

    def api(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key or self.key}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


async def _seed(url: str) -> tuple[str, str]:
    store = open_store(url)
    await store.open()
    try:
        alpha_key, beta_key, alpha = await two_workspaces(store)
        spec = MachineCreate(name="tiny", command=TINY, gpu="T4", price_per_hour=1.5,
                             probe="http:/", startup_timeout=20)  # fmt: skip
        await store.create_machine(workspace_id=alpha, spec=spec, host=True)
        return alpha_key, beta_key
    finally:
        await store.close()


def off_loop(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` to its end on a thread of its own: Playwright's sync API keeps an
    event loop running on this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result()


@pytest.fixture
def script() -> list[dict[str, Any]]:
    """The fake provider's replies (parametrize to change)."""
    return []


@pytest.fixture
def hub(database_url: str, tmp_path: Path, script: list[dict[str, Any]]) -> Iterator[UiHub]:
    with FakeLLM(script) as llm:
        settings = Settings(
            data_dir=tmp_path / "data", database_url=database_url, no_auth=False,
            log_format="text", agent_base_url=llm.url, agent_model="fake-model",
            agent_api_key="sk-fake", heartbeat_interval=1.0, reaper_interval=0.5,
        )  # fmt: skip
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        key, other = off_loop(_seed(settings.resolved_database_url))
        with LiveServer(create_app(settings)) as server:
            yield UiHub(server.url, key, other, llm, settings)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        found = shutil.which("chromium")
        if found is None:
            pytest.skip(f"no chromium at {CHROMIUM} (scripts/bootstrap installs it)")
    with playwright_api.sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            args=ARGS, headless=True,
        )  # fmt: skip
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Console:
    """What a page said went wrong: console errors and uncaught exceptions."""

    errors: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)  # substrings a test allows

    def record(self, text: str) -> None:
        if not any(part in text for part in self.expected):
            self.errors.append(text)


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(browser: Any, hub: UiHub, console: Console) -> Iterator[Any]:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, accept_downloads=True, base_url=hub.url
    )
    context.set_default_timeout(TIMEOUT_MS)
    # Offline: anything but this server is refused, as on a machine without internet.
    context.route("**/*", lambda route: route.continue_()
                  if route.request.url.startswith(hub.url) else route.abort())  # fmt: skip
    opened = context.new_page()
    opened.on("console", lambda m: console.record(m.text) if m.type == "error" else None)
    opened.on("pageerror", lambda exc: console.record(f"uncaught: {exc}"))
    try:
        yield opened
        assert console.errors == [], f"console errors: {console.errors}"
    finally:
        context.close()


def sign_in(page: Any, key: str) -> None:
    page.goto("/ui")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/ui")
