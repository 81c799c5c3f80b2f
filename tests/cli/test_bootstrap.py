"""``scripts/bootstrap`` runs pip only when pyproject.toml, the Python or the extras changed.

The script runs in a scratch copy of the repository whose ``.venv/bin/python`` is a
stand-in that records each pip call, so no package is installed here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAST_STDERR: list[str] = []

FAKE_PYTHON = """#!/bin/sh
if [ "$1" = "-c" ]; then echo "${FAKE_PY_VERSION:-3.11.0}"; exit 0; fi
echo "$*" >> "$(dirname "$0")/../pip.log"
"""


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "bootstrap", tmp_path / "scripts" / "bootstrap")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, text in (("python", FAKE_PYTHON), ("sessionhub", "#!/bin/sh\n")):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return tmp_path


def bootstrap(checkout: Path, *args: str, **env: str) -> list[str]:
    """Run the script; answer the ``pip install -e`` specs it ran this time."""
    log = checkout / ".venv" / "pip.log"
    log.unlink(missing_ok=True)
    done = subprocess.run(
        [str(checkout / "scripts" / "bootstrap"), *args],
        check=True, env={**os.environ, **env}, capture_output=True, text=True,
    )  # fmt: skip
    LAST_STDERR.append(done.stderr)
    calls = log.read_text().splitlines() if log.exists() else []
    return [call.split()[-1] for call in calls if " -e " in call]


def test_the_first_run_installs_and_the_second_skips(checkout: Path) -> None:
    assert bootstrap(checkout, "[server]") == [".[server]"]
    assert "source .venv/bin/activate" in LAST_STDERR[-1]  # how to reach the command
    assert bootstrap(checkout, "[server]") == []
    assert LAST_STDERR[-1] == ""


def test_an_extra_already_installed_is_not_installed_again(checkout: Path) -> None:
    assert bootstrap(checkout, "[server,test]") == [".[server,test]"]
    assert bootstrap(checkout, "[server]") == []
    assert bootstrap(checkout, "[test, server]") == []
    assert bootstrap(checkout) == []


def test_a_new_extra_installs_the_union(checkout: Path) -> None:
    bootstrap(checkout, "[server]")
    assert bootstrap(checkout, "[test]") == [".[server,test]"]


def test_a_changed_pyproject_reinstalls(checkout: Path) -> None:
    bootstrap(checkout, "[server]")
    (checkout / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "2"\n')
    assert bootstrap(checkout, "[server]") == [".[server]"]
    assert bootstrap(checkout, "[server]") == []


def test_another_python_reinstalls(checkout: Path) -> None:
    bootstrap(checkout, "[server]")
    assert bootstrap(checkout, "[server]", FAKE_PY_VERSION="3.12.1") == [".[server]"]


def test_force_reinstalls(checkout: Path) -> None:
    bootstrap(checkout, "[server]")
    assert bootstrap(checkout, "[server]", SESSIONHUB_BOOTSTRAP_FORCE="1") == [".[server]"]


def test_a_failed_install_leaves_no_stamp(checkout: Path) -> None:
    python = checkout / ".venv" / "bin" / "python"
    python.write_text(FAKE_PYTHON.replace('echo "$*"', 'exit 1; echo "$*"'))
    with pytest.raises(subprocess.CalledProcessError):
        bootstrap(checkout, "[server]")
    assert not (checkout / ".venv" / ".bootstrap-stamp").exists()
