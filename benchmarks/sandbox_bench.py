"""One agent ``Bash`` tool call (``true``), unsandboxed and in bubblewrap.

Measured directly through the tool's own path (``run_shell`` -> ``Sandbox.run``) with
the server's default limits (a cgroup per call where this host allows one, the file
size cap through ``prlimit``), so the row is the sandbox's cost per tool call and
nothing of HTTP or the model. A third row, ``bare``, runs the same call unsandboxed
and without any limit (no cgroup, no rlimit, so no ``sh`` prefix): ``none`` minus
``bare`` is what applying the limits costs, which both sandboxed and unsandboxed
calls pay. Run alone: ``python benchmarks/sandbox_bench.py [repeat]``.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sessionhub.config import Settings
from sessionhub.execution.factory import open_sandbox
from sessionhub.execution.sandbox import NoSandbox, Sandbox
from sessionhub.kinds.agent.tools import run_shell

BUDGET_MS = 15.0  # the ceiling on the sandbox's cost per tool call


async def time_calls(sandbox: Sandbox, workdir: Path, repeat: int) -> list[float]:
    took = []
    for _ in range(repeat):
        start = time.perf_counter()
        code, _, err = await run_shell(sandbox, "true", workdir, 30)
        took.append((time.perf_counter() - start) * 1000)
        assert code == 0, err
    return took


async def measure_async(repeat: int) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("bare", "none", "bubblewrap"):
            sandbox = NoSandbox() if mode == "bare" else open_sandbox(Settings(sandbox=mode))  # type: ignore[arg-type]
            if sandbox.name != mode and mode != "bare":
                rows[mode] = {"error": "bubblewrap is not installed"}
                continue
            await time_calls(sandbox, Path(tmp), 3)  # warm the page cache
            took = sorted(await time_calls(sandbox, Path(tmp), repeat))
            rows[mode] = {"median_ms": round(statistics.median(took), 2),
                          "p90_ms": round(took[int(len(took) * 0.9) - 1], 2), "n": repeat}  # fmt: skip
    if "median_ms" in rows.get("bubblewrap", {}):
        cost = rows["bubblewrap"]["median_ms"] - rows["none"]["median_ms"]
        rows["cost_ms"] = round(cost, 2)
        rows["within_budget"] = cost <= BUDGET_MS
    rows["limits_ms"] = round(rows["none"]["median_ms"] - rows["bare"]["median_ms"], 2)
    return rows


def measure(repeat: int = 50) -> dict[str, Any]:
    return asyncio.run(measure_async(repeat))


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 50), indent=2))
