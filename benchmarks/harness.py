"""Processes and plumbing for the benchmark runner: servers, a blocking HTTP client,
throwaway PostgreSQL databases, free ports and phase time limits."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


def ensure_venv(venv: Path, requirements: Path, base_python: str, log: Any = print) -> Path:
    """Create (once) ``venv`` with the pinned ``requirements``; rebuilt when they change.

    Returns the venv's python.
    """
    py = venv / "bin" / "python"
    stamp = venv / ".requirements.sha256"
    want = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if py.exists() and stamp.exists() and stamp.read_text().strip() == want:
        return py
    log(f"installing {requirements.name} into {venv} (once)")
    if not py.exists():
        subprocess.run([base_python, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "-r", str(requirements)],
        check=True,
        timeout=900,
    )
    stamp.write_text(want + "\n")
    return py


class PhaseTimeout(Exception):
    pass


class EndpointMissing(Exception):
    """The server answered a route-level 404/405: the endpoint does not exist (yet)."""


class HttpFailure(Exception):
    def __init__(self, method: str, path: str, status: int, body: bytes) -> None:
        super().__init__(f"{method} {path} -> {status}: {body[:300]!r}")
        self.status = status


@contextlib.contextmanager
def time_limit(seconds: float, what: str) -> Iterator[None]:
    """Raise PhaseTimeout in the main thread if the block runs longer than ``seconds``."""

    def on_alarm(signum: int, frame: object) -> None:
        raise PhaseTimeout(f"{what}: over its {seconds:.0f} s limit")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Client:
    """A blocking keep-alive HTTP client for the runner's own (non-load) calls."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 60.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def raw(
        self, method: str, path: str, body: bytes | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def call(self, method: str, path: str, body: Any = None, expect: int | None = None) -> Any:
        """Send JSON, return the decoded JSON answer; raise on an unexpected status."""
        payload = None if body is None else json.dumps(body).encode()
        status, headers, data = self.raw(method, path, payload)
        check_status(method, path, status, headers, data, expect)
        return json.loads(data) if data else None

    def stream(
        self, method: str, path: str, chunk: int = 1 << 20
    ) -> tuple[int, dict[str, str], Iterator[bytes]]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        conn.request(method, path)
        resp = conn.getresponse()
        headers = {k.lower(): v for k, v in resp.getheaders()}

        def body() -> Iterator[bytes]:
            try:
                while block := resp.read(chunk):
                    yield block
            finally:
                conn.close()

        return resp.status, headers, body()


def check_status(
    method: str, path: str, status: int, headers: Mapping[str, str], data: bytes, expect: int | None
) -> None:
    ok = status == expect if expect is not None else 200 <= status < 300
    if ok:
        return
    # FastAPI's own "no such route" answer is plain JSON; sessionhub's domain 404s are
    # RFC 9457 problem documents. Only the former means the endpoint is missing.
    if status in (404, 405) and "problem+json" not in headers.get("content-type", ""):
        raise EndpointMissing(f"{method} {path.split('?')[0]} -> {status}")
    raise HttpFailure(method, path, status, data)


class Server:
    """A server subprocess in its own process group, stopped by ``stop()``."""

    def __init__(
        self,
        name: str,
        cmd: Sequence[str],
        *,
        port: int,
        env: Mapping[str, str],
        log_path: Path,
        cwd: Path | None = None,
        health_path: str = "/healthz",
    ) -> None:
        self.name, self.cmd, self.port = name, list(cmd), port
        self.env, self.log_path, self.cwd, self.health_path = dict(env), log_path, cwd, health_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> None:
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            self.cmd,
            env=self.env,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        client = Client(self.port, timeout=2)
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}"
                    )
                try:
                    status, _, _ = client.raw("GET", self.health_path)
                    if status == 200:
                        return
                except OSError:
                    client.close()
                time.sleep(0.1)
        finally:
            client.close()
        self.stop()
        raise RuntimeError(f"{self.name} not healthy after {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


class Postgres:
    """Creates and drops throwaway databases on a PostgreSQL server (psql, else asyncpg)."""

    def __init__(self, base_url: str, fallback_python: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 5432
        self.user = parts.username or "postgres"
        self.fallback_python = fallback_python
        self.created: list[str] = []

    def url(self, db: str, driver: str = "postgresql") -> str:
        return f"{driver}://{self.user}@{self.host}:{self.port}/{db}"

    def execute(self, sql: str, timeout: float = 60) -> None:
        psql = shutil.which("psql")
        if psql:
            cmd = [psql, "-h", self.host, "-p", str(self.port), "-U", self.user, "-d", "postgres"]
            cmd += ["-v", "ON_ERROR_STOP=1", "-qc", sql]
        elif self.fallback_python:
            script = (
                "import asyncio,asyncpg,sys\n"
                "async def m():\n"
                f"    c=await asyncpg.connect(host={self.host!r},port={self.port},"
                f"user={self.user!r},database='postgres')\n"
                "    await c.execute(sys.argv[1]); await c.close()\n"
                "asyncio.run(m())\n"
            )
            cmd = [self.fallback_python, "-c", script, sql]
        else:
            raise RuntimeError("neither psql nor a Python with asyncpg to create databases")
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{sql!r} failed: {proc.stderr.strip()}")

    def available(self) -> str | None:
        """None if the server answers, else why not."""
        try:
            self.execute("SELECT 1", timeout=15)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            return str(exc)
        return None

    def create(self, name: str) -> str:
        self.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return name

    def drop(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.created:
            self.created.remove(name)

    def drop_all(self) -> list[str]:
        failures = []
        for name in list(self.created):
            try:
                self.drop(name)
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
                failures.append(f"{name}: {exc}")
        return failures
