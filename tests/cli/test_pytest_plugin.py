"""Installing sessionhub adds no pytest fixture to other projects; the plugin is opt-in."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

UNRELATED_TEST = """
import pytest

@pytest.fixture
def settings():
    return "theirs"

def test_own_settings(settings):
    assert settings == "theirs"
"""

ASKS_FOR_OURS = """
def test_wants_settings(settings):
    assert settings is not None
"""


def run_pytest(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=project, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_no_pytest11_entry_point_is_registered() -> None:
    names = [ep.value for ep in entry_points(group="pytest11")]
    assert not [value for value in names if value.startswith("sessionhub")]


def test_an_unrelated_project_does_not_get_our_settings_fixture(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_theirs.py").write_text(ASKS_FOR_OURS)
    result = run_pytest(tmp_path)
    assert result.returncode == 1, result.stdout
    assert "fixture 'settings' not found" in result.stdout


def test_an_unrelated_projects_own_settings_fixture_wins(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_theirs.py").write_text(UNRELATED_TEST)
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout


def test_the_plugin_is_there_for_who_asks(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_theirs.py").write_text(ASKS_FOR_OURS)
    result = run_pytest(tmp_path, "-p", "sessionhub.testing.plugin", "--fixtures")
    assert result.returncode == 0, result.stdout
    assert "live_server" in result.stdout
