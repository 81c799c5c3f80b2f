"""The agent provider configured by ``sessionhub serve`` flags, seen through the real SDK."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sessionhub.config import Settings
from sessionhub.testing.fixtures import free_port
from tests.api.dialects.mix.conftest import Harness, _admin_key
from tests.api.dialects.mix.fake_llm import FakeLLM


class Served:
    """What ``Harness`` needs of a server: its URL."""

    def __init__(self, url: str) -> None:
        self.url = url


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize("script", [[{"content": "configured by flags"}]])
def test_serve_flags_configure_the_provider(
    tmp_path: Path, mix_python: Path, script: list[dict[str, str]]
) -> None:
    data = tmp_path / "data"
    key = asyncio.run(_admin_key(Settings(data_dir=data)))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONHUB_")}
    with FakeLLM(script) as llm:
        command = [sys.executable, "-m", "sessionhub", "serve", "--port", str(port),
                   "--data-dir", str(data), "--log-format", "text",
                   "--agent-base-url", llm.url, "--agent-model", "flag-model",
                   "--agent-api-key", "sk-from-the-flag"]  # fmt: skip
        with open(tmp_path / "server.log", "wb") as log:
            proc = subprocess.Popen(command, stdout=log, stderr=log, env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):  # bounded: 30 s
                if healthy(url) or proc.poll() is not None:
                    break
                time.sleep(0.1)
            assert healthy(url), (tmp_path / "server.log").read_text()[-3000:]
            out = Harness(Served(url), key, mix_python, llm).run("turn", text="hello")  # type: ignore[arg-type]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        last = [f for f in out["frames"] if "event" in f][-1]
        assert last["event"] == "complete" and last["data"]["content"] == "configured by flags"
        assert [r["model"] for r in llm.requests] == ["flag-model"]
        assert llm.authorizations == ["Bearer sk-from-the-flag"]
