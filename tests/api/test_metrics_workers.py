"""`serve --workers 2`: /metrics is one view of both workers, whichever one answers.

PostgreSQL only (several processes share the database). A real server process on a
free port: its shared port hands each connection to either worker, so successive
scrapes come from both, and each must count every request made so far.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.api.test_nodes import Cluster, cluster, node_urls, until

__all__ = ["cluster"]  # the fixture, shared with test_nodes

pytestmark = pytest.mark.postgres

HEALTHZ = 'sessionhub_http_requests_total{method="GET",route="/healthz",status="200"}'


def counted(metrics: str, prefix: str = HEALTHZ) -> float:
    return sum(float(line.split()[-1]) for line in metrics.splitlines() if line.startswith(prefix))


def stale_metrics_dir(data_dir: Path) -> Path:
    """What a server killed with SIGKILL leaves behind: a dead pid's metrics files."""
    done = subprocess.run(["true"], check=True)
    assert done.returncode == 0
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = data_dir / "runtime" / f"metrics-{dead.pid}"
    stale.mkdir(parents=True)
    (stale / "counter_1.db").write_bytes(b"\0" * 16)
    return stale


def test_scrapes_through_the_shared_port_are_monotonic_and_whole(
    cluster: Cluster, postgres_url: str, tmp_path: Path
) -> None:
    stale = stale_metrics_dir(tmp_path / "w")
    server = cluster("w", "--workers", "2")
    assert not stale.exists()  # cleaned at start
    # two workers serve the port, each a node once it has started
    assert until(lambda: len(asyncio.run(node_urls(postgres_url))) == 2, 30)
    made, seen = 0, []
    for round_ in range(12):
        # a new connection each time: the kernel spreads them over both workers
        for _ in range(round_ % 3 + 1):
            assert httpx.get(f"{server.url}/healthz").status_code == 200
            made += 1
        seen.append(counted(httpx.get(f"{server.url}/metrics").text))
    assert seen == sorted(seen)  # monotonic across scrapes
    assert seen[-1] == made  # and whole: every request of both workers
    scrapes = counted(
        httpx.get(f"{server.url}/metrics").text,
        'sessionhub_http_requests_total{method="GET",route="/metrics"',
    )
    assert scrapes == 12
    runtime = list((server.data_dir / "runtime").glob("metrics-*"))
    assert [d.name for d in runtime] == [f"metrics-{server.proc.pid}"]  # the server's own
