"""The benchmark runner's smoke run: every sessionhub operation answers, nothing errors.

It checks that ``benchmarks/run.py --quick`` still drives the server end to end (so the
benchmark does not rot as the API changes); it asserts no performance figure.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_run_on_sqlite(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "run.py"),
            "--quick",
            "--only",
            "sqlite",
            "--no-adk",
            "--no-hello",
            "--loadgen",
            "python",
            "--server-python",
            sys.executable,
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "latest.json").read_text())
    ops = doc["results"]["sqlite"]["sessionhub"]
    failed = {k: v for k, v in ops.items() if isinstance(v, dict) and ("error" in v or "na" in v)}
    assert not failed, failed
    for key in ("create_c50", "get_c50", "append_c50", "append_c50_one", "list_300", "tail_500"):
        assert ops[key]["n"] > 0 and ops[key]["errors"] == 0, (key, ops[key])
    assert ops["export_2k"]["events"] == 2000
