"""What ``sessionhub serve`` loads before it answers: not the openai client (~0.6 s of
imports), which the agent kind loads on its first turn."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = """
import sys
from sessionhub.cli import app
from sessionhub.api.app import create_app
from sessionhub.config import Settings
create_app(Settings(data_dir=sys.argv[1]))
print("openai" in sys.modules)
"""


def test_the_server_starts_without_importing_openai(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
