"""Isolated, cached environments for the real client SDKs the dialects are tested with.

Vendor SDKs pin conflicting versions (pydantic, httpx, python-dateutil…), so each
gets its own virtual environment (or npm project) under ``.envs/`` — never the
server's environment — created on first use and reused while its requirements are
unchanged. Tests drive the SDK as a subprocess against a live server.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ENVS = Path(os.environ.get("SESSIONHUB_TEST_ENVS", Path.cwd() / ".envs"))


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    """One creator at a time, across pytest processes."""
    ENVS.mkdir(parents=True, exist_ok=True)
    with open(ENVS / f".{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def python_env(name: str, requirements: Sequence[str]) -> Path:
    """The interpreter of a virtual environment holding exactly ``requirements``."""
    root = ENVS / name
    marker = root / ".requirements.json"
    wanted = json.dumps(sorted(requirements))
    with _locked(root):
        if not (marker.exists() and marker.read_text() == wanted):
            shutil.rmtree(root, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(root)], check=True)
            pip = [str(root / "bin" / "python"), "-m", "pip", "install", "--quiet",
                   "--disable-pip-version-check", *requirements]  # fmt: skip
            subprocess.run(pip, check=True, timeout=600)
            marker.write_text(wanted)
    return root / "bin" / "python"


def node_project(
    name: str, dependencies: dict[str, str], *, legacy_peer_deps: bool = False
) -> Path:
    """A directory with ``node_modules`` holding exactly ``dependencies`` (pinned).

    ``legacy_peer_deps`` leaves out peer dependencies a package declares but the test
    does not use (npm would otherwise install them).
    """
    root = ENVS / f"npm-{name}"
    manifest = {"name": f"sessionhub-test-{name}", "private": True, "dependencies": dependencies}
    wanted = json.dumps(manifest, sort_keys=True, indent=2)
    flags = ["--legacy-peer-deps"] if legacy_peer_deps else []
    with _locked(root):
        marker = root / ".manifest.json"
        if not (marker.exists() and marker.read_text() == wanted + " ".join(flags)):
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
            (root / "package.json").write_text(wanted)
            npm = ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", *flags]
            subprocess.run(npm, cwd=root, check=True, timeout=600)
            marker.write_text(wanted + " ".join(flags))
    return root


def run(command: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 120,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run a client script; its output is kept for the assertion message."""
    return subprocess.run(
        list(command), env={**os.environ, **(env or {})}, capture_output=True, text=True,
        timeout=timeout, cwd=cwd, check=False,
    )  # fmt: skip
