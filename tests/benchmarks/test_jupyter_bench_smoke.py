"""The Jupyter benchmark's smoke run: every operation answers on sessionhub, cold and pooled.

It runs ``benchmarks/jupyter_bench.py --quick --no-jupyter-server`` (jupyter_server's own
venv is left to the real run) and asserts no performance figure.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ROWS = ("create", "create_to_1+1", "list", "get", "delete")


@pytest.mark.slow
def test_quick_jupyter_run(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "jupyter_bench.py"), "--quick",
         "--no-jupyter-server", "--server-python", sys.executable, "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=400, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "jupyter-latest.json").read_text())
    results = doc["results"]
    assert set(results) == {"sessionhub (cold)", "sessionhub (pool 2)"}
    for name, ops in results.items():
        assert "error" not in ops, (name, ops)
        for row in ROWS:
            assert ops[row]["n"] > 0, (name, row)
        assert ops["list"]["sessions"] == 50
    assert results["sessionhub (pool 2)"]["create_to_1+1"]["pooled"] >= 1
    assert "create -> 1+1 answered over the websocket" in proc.stdout
