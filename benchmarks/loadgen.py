"""HTTP load generation for the benchmark runner: wrk when present, else a lean asyncio client.

Every load is bounded twice: by a request count and by a duration, whichever ends first.
Each result also carries the CPU the load generator itself used (as a percentage of one
core) so that a reader can see whether the generator, not the server, was the limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from proc import cpu_seconds, machine_busy_seconds


@dataclass(frozen=True)
class LoadSpec:
    """What to send: ``method`` to ``paths`` (taken round-robin), ``concurrency`` connections."""

    host: str
    port: int
    method: str
    paths: tuple[str, ...]
    concurrency: int
    max_requests: int
    duration: float
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class LoadResult:
    n: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    concurrency: int
    tool: str
    loadgen_cpu_pct: float | None = None
    server_cpu_pct: float | None = None
    other_cpu_pct: float | None = None  # everything else on the machine (e.g. PostgreSQL)
    first_error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("seconds", "rps", "p50_ms", "p99_ms", "max_ms"):
            d[k] = round(d[k], 3)
        return d


def wrk_path() -> str | None:
    return shutil.which("wrk")


_LUA = r"""
local paths = {%(paths)s}
local method = "%(method)s"
local body = %(body)s
local max_requests = %(max)d
local i = 0
responses = 0
first_bad = 0
%(headers)s
request = function()
  i = i + 1
  return wrk.format(method, paths[(i %% #paths) + 1], nil, body)
end
response = function(status, headers, resp_body)
  responses = responses + 1
  if status >= 400 and first_bad == 0 then first_bad = status end
  if responses >= max_requests then wrk.thread:stop() end
end
local threads = {}
setup = function(thread) table.insert(threads, thread) end
done = function(summary, latency, requests)
  local bad = 0
  local got = 0
  for _, t in ipairs(threads) do
    got = got + t:get("responses")
    local fb = t:get("first_bad")
    if fb ~= 0 and bad == 0 then bad = fb end
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"connect":%%d,"read":%%d,"write":%%d,' ..
    '"status":%%d,"timeout":%%d,"first_bad":%%d,"responses":%%d,' ..
    '"p50":%%f,"p99":%%f,"max":%%f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    bad, got, latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def _lua_str(s: str) -> str:
    """A Lua string literal for any text: bytes other than letters, digits and a few safe
    punctuation marks become decimal escapes, which every Lua (and LuaJIT) reads."""
    safe = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 /?=&:,.-_{}[]")
    return '"' + "".join(chr(b) if b in safe else f"\\{b:03d}" for b in s.encode()) + '"'


def run_wrk(spec: LoadSpec, server_pid: int | None) -> LoadResult:
    wrk = wrk_path()
    if wrk is None:
        raise RuntimeError("wrk not found")
    headers = "\n".join(f"wrk.headers[{_lua_str(k)}] = {_lua_str(v)}" for k, v in spec.headers)
    lua = _LUA % {
        "paths": ", ".join(_lua_str(p) for p in spec.paths),
        "method": spec.method,
        "body": "nil" if spec.body is None else _lua_str(spec.body.decode()),
        "max": spec.max_requests,
        "headers": headers,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua)
        script = f.name
    # One wrk thread: on 2 cores the other core belongs to the server.
    cmd = [
        wrk,
        "-t1",
        f"-c{spec.concurrency}",
        f"-d{max(1, round(spec.duration))}s",
        "--timeout",
        "10s",
        "-s",
        script,
        f"http://{spec.host}:{spec.port}",
    ]
    try:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        srv0 = cpu_seconds(server_pid) if server_pid else None
        all0 = machine_busy_seconds()
        t0 = time.perf_counter()
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=spec.duration + 30, check=False
        )
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        srv1 = cpu_seconds(server_pid) if server_pid else None
        all1 = machine_busy_seconds()
    finally:
        os.unlink(script)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout}")
    d = json.loads(line.removeprefix("WRKJSON "))
    seconds = d["duration_us"] / 1e6
    sock_errors = d["connect"] + d["read"] + d["write"] + d["timeout"]
    errors = d["status"] + sock_errors
    ok = d["requests"] - d["status"]
    used = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    first_error = None
    if d["first_bad"]:
        first_error = f"HTTP {d['first_bad']}"
    elif sock_errors:
        first_error = f"socket errors {sock_errors}"
    return LoadResult(
        n=ok,
        errors=errors,
        seconds=seconds,
        rps=ok / seconds if seconds else 0.0,
        p50_ms=d["p50"] / 1000,
        p99_ms=d["p99"] / 1000,
        max_ms=d["max"] / 1000,
        concurrency=spec.concurrency,
        tool="wrk",
        loadgen_cpu_pct=round(100 * used / wall, 1),
        server_cpu_pct=_cpu_pct(srv0, srv1, wall),
        other_cpu_pct=_other(all1 - all0, used, srv0, srv1, wall),
        first_error=first_error,
        # Stopped by the request cap: wrk still reports the full duration, so the rate is
        # a lower bound. run.py sizes caps so that this does not happen.
        extra={"capped": True} if d["responses"] >= spec.max_requests else {},
    )


def _cpu_pct(a: float | None, b: float | None, wall: float) -> float | None:
    if a is None or b is None or wall <= 0:
        return None
    return round(100 * (b - a) / wall, 1)


def _other(
    busy: float, loadgen: float, srv0: float | None, srv1: float | None, wall: float
) -> float | None:
    if srv0 is None or srv1 is None or wall <= 0:
        return None
    return round(max(0.0, 100 * (busy - loadgen - (srv1 - srv0)) / wall), 1)


# --- a lean asyncio HTTP/1.1 keep-alive client --------------------------------------------


class HttpError(Exception):
    pass


class AsyncConn:
    """One keep-alive HTTP/1.1 connection; enough of the protocol for this benchmark."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._r: asyncio.StreamReader | None = None
        self._w: asyncio.StreamWriter | None = None

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._r is None or self._w is None:
            self._r, self._w = await asyncio.open_connection(self.host, self.port)
        return self._r, self._w

    async def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> tuple[int, bytes]:
        r, w = await self._connect()
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head += [f"{k}: {v}" for k, v in headers]
        if body is not None:
            head.append(f"Content-Length: {len(body)}")
            if not any(k.lower() == "content-type" for k, _ in headers):
                head.append("Content-Type: application/json")
        w.write(("\r\n".join(head) + "\r\n\r\n").encode() + (body or b""))
        await w.drain()
        raw = await r.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        hdrs = {}
        for ln in lines[1:]:
            if ":" in ln:
                k, v = ln.split(":", 1)
                hdrs[k.strip().lower()] = v.strip()
        if "content-length" in hdrs:
            data = await r.readexactly(int(hdrs["content-length"]))
        elif hdrs.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await r.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await r.readuntil(b"\r\n")
                    break
                parts.append(await r.readexactly(size))
                await r.readexactly(2)
            data = b"".join(parts)
        else:
            data = await r.read()
            await self.close()
        if hdrs.get("connection", "").lower() == "close":
            await self.close()
        return status, data

    async def close(self) -> None:
        if self._w is not None:
            self._w.close()
            with contextlib.suppress(OSError):
                await self._w.wait_closed()
        self._r = self._w = None


def _pct(sorted_s: list[float], q: float) -> float:
    if not sorted_s:
        return float("nan")
    return sorted_s[min(len(sorted_s) - 1, round(q / 100 * (len(sorted_s) - 1)))]


async def _run_python(spec: LoadSpec) -> tuple[list[float], int, str | None, float]:
    latencies: list[float] = []
    errors = 0
    first_error: list[str] = []
    remaining = spec.max_requests
    counter = 0
    deadline = time.perf_counter() + spec.duration

    async def worker() -> None:
        nonlocal remaining, errors, counter
        conn = AsyncConn(spec.host, spec.port)
        try:
            while remaining > 0 and time.perf_counter() < deadline:
                remaining -= 1
                counter += 1
                path = spec.paths[counter % len(spec.paths)]
                t0 = time.perf_counter()
                try:
                    status, data = await asyncio.wait_for(
                        conn.request(spec.method, path, spec.body, spec.headers), 10
                    )
                except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                    errors += 1
                    first_error.append(f"{type(exc).__name__}: {exc}")
                    await conn.close()
                    continue
                if status >= 400:
                    errors += 1
                    first_error.append(f"HTTP {status}: {data[:200]!r}")
                    continue
                latencies.append(time.perf_counter() - t0)
        finally:
            await conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(spec.concurrency)))
    return latencies, errors, (first_error[0] if first_error else None), time.perf_counter() - t0


def run_python(spec: LoadSpec, server_pid: int | None) -> LoadResult:
    srv0 = cpu_seconds(server_pid) if server_pid else None
    all0 = machine_busy_seconds()
    me0 = time.process_time()
    t0 = time.perf_counter()
    lat, errors, first_error, seconds = asyncio.run(_run_python(spec))
    wall = time.perf_counter() - t0
    srv1 = cpu_seconds(server_pid) if server_pid else None
    used = time.process_time() - me0
    all1 = machine_busy_seconds()
    lat.sort()
    return LoadResult(
        n=len(lat),
        errors=errors,
        seconds=seconds,
        rps=len(lat) / seconds if seconds else 0.0,
        p50_ms=_pct(lat, 50) * 1000,
        p99_ms=_pct(lat, 99) * 1000,
        max_ms=(lat[-1] * 1000) if lat else float("nan"),
        concurrency=spec.concurrency,
        tool="python-asyncio",
        loadgen_cpu_pct=round(100 * used / wall, 1),
        server_cpu_pct=_cpu_pct(srv0, srv1, wall),
        other_cpu_pct=_other(all1 - all0, used, srv0, srv1, wall),
        first_error=first_error,
    )


def run_load(
    spec: LoadSpec, server_pid: int | None, tool: str = "auto", warmup: float = 0.0
) -> LoadResult:
    """Run one bounded load with ``tool`` (``wrk``, ``python`` or ``auto``: wrk if installed),
    after an unrecorded warm-up of ``warmup`` seconds with the same requests."""
    use_wrk = tool == "wrk" or (tool == "auto" and wrk_path() is not None)
    runner = run_wrk if use_wrk else run_python
    if warmup > 0:
        runner(replace(spec, duration=warmup, max_requests=max(1, spec.max_requests // 10)), None)
    return runner(spec, server_pid)


async def fire(
    host: str,
    port: int,
    requests: Iterable[tuple[str, str, bytes | None]],
    *,
    concurrency: int,
    deadline: float,
) -> int:
    """Send every (method, path, body) of ``requests`` over ``concurrency`` connections.

    Used for seeding. Returns how many were sent; raises on the first failure or when the
    monotonic ``deadline`` passes.
    """
    it = iter(requests)
    sent = 0

    async def worker() -> None:
        nonlocal sent
        conn = AsyncConn(host, port)
        try:
            for method, path, body in it:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("seeding ran past its time limit")
                status, data = await asyncio.wait_for(conn.request(method, path, body), left)
                if status >= 400:
                    raise HttpError(f"{method} {path} -> {status}: {data[:300]!r}")
                sent += 1
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return sent
