"""``sessions tail -f`` against a real server that goes away: exit 1 with a message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.cli.test_startup import environment, start_server, started  # noqa: F401


def test_tail_follow_exits_non_zero_when_the_server_stops(
    tmp_path: Path,
    started: list[subprocess.Popen[bytes]],  # noqa: F811
) -> None:
    url = start_server(started, tmp_path, "serve", "--no-auth", "--data-dir", str(tmp_path / "d"))
    session = httpx.post(f"{url}/v1/sessions", json={"title": "t"}).json()
    event = httpx.post(
        f"{url}/v1/sessions/{session['id']}/events", json={"type": "note", "payload": {"n": 1}}
    ).json()
    tail = subprocess.Popen(
        [sys.executable, "-m", "sessionhub", "sessions", "tail", "-f", session["id"], "--url", url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment(),
    )  # fmt: skip
    try:
        assert tail.stdout is not None
        first = tail.stdout.readline()
        assert first.split()[:2] == ["1", event["id"]]
        server = started.pop()
        server.terminate()
        server.wait(timeout=30)
        _, err = tail.communicate(timeout=60)
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.wait()
    assert tail.returncode == 1, err
    assert "error:" in err and ("went away" in err or "ended the stream" in err), err
