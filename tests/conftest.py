"""Project-wide test setup; the fixtures come from the sessionhub pytest plugin, loaded here
(it is opt-in: the package registers no ``pytest11`` entry point)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

pytest_plugins = ["sessionhub.testing.plugin"]


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No SESSIONHUB_* setting from the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("SESSIONHUB_") and not name.startswith("SESSIONHUB_TEST_"):
            monkeypatch.delenv(name)
    yield
