"""Walk the README: every fenced ``bash``/``sh`` and ``python`` block runs, in order,
against a live server (the convention is in README.md, "Testing").

A block's marker is an HTML comment on the line before its fence:
``<!-- readme-test: skip (why) -->``, ``<!-- readme-test: server [postgres] -->`` or
``<!-- readme-test: sdk NAME -->``. Blocks are found afresh on every run, so sections
other people add are walked too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from sessionhub.testing import sdkenv
from sessionhub.testing.fixtures import create_pg_database, drop_pg_database, free_port

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RUN_LANGUAGES = {"bash": "bash", "sh": "bash", "shell": "bash", "python": "python"}
FENCE = re.compile(r"^```([\w+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
MARKER = re.compile(r"<!--\s*readme-test:\s*(.*?)\s*-->\s*$")
SDKS = {"mix": ("mix", ["mix-python-sdk==0.8.1"])}  # as tests/api/dialects/mix uses it
BLOCK_TIMEOUT = 120


@dataclass(frozen=True)
class Block:
    line: int
    language: str
    code: str
    marker: str

    @property
    def id(self) -> str:
        return f"L{self.line}-{self.language}"


def readme_blocks(text: str) -> list[Block]:
    blocks = []
    for match in FENCE.finditer(text):
        language = match.group(1).lower()
        if language not in RUN_LANGUAGES:
            continue
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.search(before)
        line = text.count("\n", 0, match.start()) + 1
        blocks.append(
            Block(line, RUN_LANGUAGES[language], match.group(2), (marker and marker.group(1)) or "")
        )
    return blocks


BLOCKS = readme_blocks(README.read_text())


@dataclass
class Walk:
    url: str
    key: str
    key_id: str
    data_dir: Path
    cwd: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONHUB_")}
        for name in ("SESSIONHUB_TEST_ENVS", "SESSIONHUB_TEST_POSTGRES_URL"):
            if name in os.environ:
                env[name] = os.environ[name]
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env.update(
            SESSIONHUB_URL=self.url, SESSIONHUB_API_KEY=self.key,
            SESSIONHUB_DATA_DIR=str(self.data_dir),
        )  # fmt: skip
        env.update(extra)
        return env

    def substitute(self, code: str) -> str:
        hostport = self.url.removeprefix("http://")
        code = code.replace("http://127.0.0.1:8700", self.url)
        code = code.replace("localhost:8700", hostport).replace("127.0.0.1:8700", hostport)
        return code.replace("shk_…", self.key).replace("<key-id>", self.key_id)


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"no answer from {url}:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End the process group this test started (the block's shell and its server)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Walk]:
    """One live server (SQLite) for the whole walk, and a folder to run blocks in."""
    base = tmp_path_factory.mktemp("readme")
    cwd = base / "cwd"
    cwd.mkdir()
    (cwd / "scripts").symlink_to(ROOT / "scripts")  # they cd -P to the real checkout
    (cwd / ".venv").symlink_to(Path(sys.prefix))
    data_dir, port = base / "data", free_port()
    log = base / "server.log"
    command = [
        sys.executable,
        "-m",
        "sessionhub",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONHUB_")}
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=out, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, server, log)
        key = re.search(r"admin API key: (\S+)", log.read_text())
        assert key, log.read_text()
        walk = Walk(url, key.group(1), "", data_dir, cwd)
        made = subprocess.run(
            [sys.executable, "-m", "sessionhub", "keys", "create", "--name", "readme-walk"],
            env=walk.env(), capture_output=True, text=True, check=True,
        )  # fmt: skip
        listed = subprocess.run(
            [sys.executable, "-m", "sessionhub", "keys", "list", "--output", "json"],
            env=walk.env(), capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert made.stdout.startswith("shk_")
        walk.key_id = next(k["id"] for k in json.loads(listed.stdout) if k["name"] == "readme-walk")
        yield walk
    finally:
        stop(server)


def run_block(block: Block, walk: Walk, code: str, env: dict[str, str]) -> None:
    if block.language == "bash":
        argv = ["bash", "-euo", "pipefail", "-c", code]
    else:
        python = sys.executable
        if block.marker.startswith("sdk"):
            name, requirements = SDKS[block.marker.split()[1]]
            python = str(sdkenv.python_env(name, requirements))
        argv = [python, "-c", code]
    result = subprocess.run(
        argv, cwd=walk.cwd, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT
    )
    assert result.returncode == 0, (
        f"README line {block.line} exited {result.returncode}\n--- code\n{code}\n"
        f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"
    )


def run_server_block(block: Block, walk: Walk, code: str, tmp_path: Path) -> None:
    """The block starts a server in the foreground: it must answer, then it is stopped."""
    port = free_port()
    env = walk.env(SESSIONHUB_PORT=str(port), SESSIONHUB_DATA_DIR=str(tmp_path / "data"))
    env.pop("SESSIONHUB_URL")
    log = tmp_path / "block.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["bash", "-euo", "pipefail", "-c", code], cwd=walk.cwd, env=env,
            stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc, log)
    finally:
        stop(proc)


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_readme_block(block: Block, walk: Walk, tmp_path: Path) -> None:
    marker = block.marker
    if marker.startswith("skip"):
        reason = marker.removeprefix("skip").strip(" ()")
        assert reason, f"README line {block.line}: a skipped block must say why"
        pytest.skip(f"README line {block.line}: {reason}")
    code = walk.substitute(block.code)
    if marker.startswith("server"):
        if "postgres" not in marker:
            run_server_block(block, walk, code, tmp_path)
            return
        if os.environ.get("SESSIONHUB_TEST_SKIP_POSTGRES") == "1":
            pytest.skip("SESSIONHUB_TEST_SKIP_POSTGRES=1")
        url = create_pg_database()
        name = url.rsplit("/", 1)[1]
        drop_pg_database(url)  # the block's createdb makes it
        code = code.replace("postgres sessionhub", f"postgres {name}")
        code = code.replace("5432/sessionhub", f"5432/{name}")
        try:
            run_server_block(block, walk, code, tmp_path)
        finally:
            drop_pg_database(url)
        return
    assert marker == "" or marker.startswith("sdk"), f"unknown marker {marker!r}"
    run_block(block, walk, code, walk.env())


def test_the_walk_finds_the_readmes_blocks() -> None:
    """The parser sees the blocks the README has (a broken fence would hide them)."""
    languages = {block.language for block in BLOCKS}
    assert languages == {"bash", "python"}
    assert any("./scripts/serve" in block.code for block in BLOCKS)
    assert all(
        not block.marker or block.marker.split()[0] in ("skip", "server", "sdk") for block in BLOCKS
    )


def test_block_parsing_and_markers() -> None:
    text = (
        "intro\n\n<!-- readme-test: skip (no GPU here) -->\n```bash\nnvidia-smi\n```\n\n"
        "```python\nprint(1)\n```\n\n```text\nnot run\n```\n\n```\nnot run either\n```\n"
    )
    blocks = readme_blocks(text)
    assert [(b.language, b.code, b.marker) for b in blocks] == [
        ("bash", "nvidia-smi\n", "skip (no GPU here)"),
        ("python", "print(1)\n", ""),
    ]
    assert shutil.which("bash")
