"""The CLI tests' fake server: a recorder of requests and the CLI harness around it."""

from __future__ import annotations

import pytest

from tests.cli.test_sessions import Harness
from tests.client.conftest import Recorder


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def cli(recorder: Recorder) -> Harness:
    return Harness(recorder)
