"""Benchmark sessionhub's Jupyter dialect beside jupyter_server 2.21.1, in one run.

    python benchmarks/jupyter_bench.py            # 10 kernels per server, 200 reads
    python benchmarks/jupyter_bench.py --quick    # 3 kernels, 20 reads
    python benchmarks/jupyter_bench.py --no-jupyter-server   # sessionhub alone

Three servers, one after the other, driven by the same client: jupyter_server (in its
own venv, benchmarks/.venv-jupyter, from jupyter-requirements.txt), sessionhub with
cold kernel starts, and sessionhub with a warm kernel pool. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import log
from harness import PhaseTimeout, Server, ensure_venv, free_port, time_limit

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
try:
    from websockets.sync.client import connect
except ImportError:  # run again in the repo's venv, which has websockets
    venv_python = REPO / ".venv" / "bin" / "python"
    if venv_python.exists() and Path(sys.executable) != venv_python:
        os.execv(str(venv_python), [str(venv_python), __file__, *sys.argv[1:]])
    raise

JUPYTER_VENV = HERE / ".venv-jupyter"
JUPYTER_REQUIREMENTS = HERE / "jupyter-requirements.txt"
POOL_READY = re.compile(r'^sessionhub_kernel_pool_ready\{kernelspec="python3"\} (\S+)$', re.M)
Json = dict[str, Any]


@dataclass(frozen=True)
class Plan:
    kernels: int  # sessions created with their own kernel (create, create -> 1+1, delete)
    listed: int  # sessions present when listing
    reads: int  # list and get repetitions
    pool_size: int
    timeout: float  # any one phase, seconds


FULL = Plan(kernels=10, listed=50, reads=200, pool_size=2, timeout=300)
QUICK = Plan(kernels=3, listed=50, reads=20, pool_size=2, timeout=180)


# --- client ---------------------------------------------------------------------------


class Jupyter:
    """A keep-alive HTTP client and a websocket for one Jupyter-compatible base URL."""

    def __init__(self, port: int, base: str, token: str) -> None:
        self.port, self.base, self.token = port, base.rstrip("/"), token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, method: str, path: str, body: Any = None, expect: int | set[int] = 200) -> Any:
        headers = {"Authorization": f"token {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.conn.request(method, self.base + path, body=data, headers=headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        if resp.status not in (expect if isinstance(expect, set) else {expect}):
            raise RuntimeError(f"{method} {path} -> {resp.status}: {raw[:300]!r}")
        return json.loads(raw) if raw else None

    def metrics(self) -> str:
        self.conn.request("GET", "/metrics", headers={"Authorization": f"token {self.token}"})
        resp = self.conn.getresponse()
        return resp.read().decode()

    def execute(self, kernel_id: str, code: str, timeout: float = 60.0) -> str:
        """Send ``code`` over the kernel websocket; the execute_result once replied and idle."""
        url = f"ws://127.0.0.1:{self.port}{self.base}/api/kernels/{kernel_id}/channels"
        url += f"?session_id={uuid.uuid4()}&token={self.token}"
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "msg_type": "execute_request", "username": "bench",
                  "session": uuid.uuid4().hex, "version": "5.3",
                  "date": dt.datetime.now(dt.UTC).isoformat()}  # fmt: skip
        content = {"code": code, "silent": False, "store_history": True,
                   "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}  # fmt: skip
        request = {"header": header, "parent_header": {}, "metadata": {}, "content": content,
                   "channel": "shell", "buffers": []}  # fmt: skip
        result: str | None = None
        replied = False
        with connect(url, open_timeout=timeout, max_size=None) as ws:
            ws.send(json.dumps(request))
            deadline = time.monotonic() + timeout
            while not (replied and result is not None):
                frame = ws.recv(timeout=max(0.01, deadline - time.monotonic()))
                if isinstance(frame, bytes):
                    continue
                msg = json.loads(frame)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = msg["header"]["msg_type"]
                if kind == "execute_result":
                    result = msg["content"]["data"]["text/plain"]
                elif kind == "execute_reply":
                    replied = True
                    if msg["content"]["status"] != "ok":
                        raise RuntimeError(f"execute_reply: {msg['content']}")
        return str(result)

    def close(self) -> None:
        self.conn.close()


# --- measuring ------------------------------------------------------------------------


def summary(seconds: list[float]) -> Json:
    ms = sorted(s * 1000 for s in seconds)
    p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
    return {"n": len(ms), "median_ms": round(statistics.median(ms), 2), "p90_ms": round(p90, 2),
            "max_ms": round(ms[-1], 2)}  # fmt: skip


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def pool_size(client: Jupyter) -> int:
    found = POOL_READY.search(client.metrics())
    return int(float(found.group(1))) if found else 0


def wait_pool(client: Jupyter, size: int, timeout: float = 120.0) -> None:
    """Until /metrics shows the pool full again (not timed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pool_size(client) >= size:
            return
        time.sleep(0.05)
    raise RuntimeError(f"the kernel pool did not refill to {size} in {timeout:.0f} s")


def measure(client: Jupyter, plan: Plan, pool: int) -> Json:
    """Every operation against one running server; ``pool`` > 0 waits for the pool."""
    out: Json = {}
    create, first_cell, own = [], [], []
    hits = 0
    for i in range(plan.kernels):
        if pool:
            wait_pool(client, pool)
        body = {"path": f"bench/nb{i}.ipynb", "type": "notebook", "name": f"nb{i}",
                "kernel": {"name": "python3"}}  # fmt: skip
        t0 = time.perf_counter()
        made = client.call("POST", "/api/sessions", body, expect=201)
        t1 = time.perf_counter()
        answer = client.execute(made["kernel"]["id"], "1+1")
        t2 = time.perf_counter()
        if answer != "2":
            raise RuntimeError(f"1+1 answered {answer!r}")
        if pool and pool_size(client) < pool:  # the kernel came from the pool (not timed)
            hits += 1
        create.append(t1 - t0)
        first_cell.append(t2 - t0)
        own.append(made["id"])
    out["create"] = summary(create)
    out["create_to_1+1"] = summary(first_cell)
    if pool:
        out["create_to_1+1"]["pooled"] = hits

    if pool:
        wait_pool(client, pool)
    shared = client.call("POST", "/api/kernels", {"name": "python3"}, expect=201)["id"]
    client.execute(shared, "0")
    listed = [
        client.call("POST", "/api/sessions", {"path": f"bench/shared{i}.ipynb",
                    "type": "notebook", "name": "", "kernel": {"id": shared}}, expect=201)["id"]
        for i in range(plan.listed - len(own))
    ]  # fmt: skip
    if pool:
        wait_pool(client, pool)
    count = len(client.call("GET", "/api/sessions"))
    if count != plan.listed:
        raise RuntimeError(f"listed {count} sessions, expected {plan.listed}")
    out["list"] = summary([timed(lambda: client.call("GET", "/api/sessions"))[0]
                           for _ in range(plan.reads)])  # fmt: skip
    out["list"]["sessions"] = count
    target = own[0]
    out["get"] = summary([timed(lambda: client.call("GET", f"/api/sessions/{target}"))[0]
                          for _ in range(plan.reads)])  # fmt: skip

    out["delete"] = summary([timed(lambda s=s: client.call("DELETE", f"/api/sessions/{s}",
                             expect=204))[0] for s in own])  # fmt: skip
    # jupyter_server shuts a kernel down with the first of its sessions deleted, and then
    # forgets the others (404); sessionhub keeps it until the last one goes.
    for sid in listed:
        client.call("DELETE", f"/api/sessions/{sid}", expect={204, 404})
    # Deleting the last session of a kernel shut it down already (both servers).
    client.call("DELETE", f"/api/kernels/{shared}", expect={204, 404})
    return out


# --- servers --------------------------------------------------------------------------


def server_python(args: argparse.Namespace) -> str:
    found = args.server_python or os.environ.get("SESSIONHUB_BENCH_PYTHON")
    venv = REPO / ".venv" / "bin" / "python"
    return found or (str(venv) if venv.exists() else sys.executable)


@contextlib.contextmanager
def sessionhub(
    args: argparse.Namespace, work: Path, pool: int, sandbox: str = "auto"
) -> Iterator[Jupyter]:
    """``sandbox`` is SESSIONHUB_SANDBOX: ``auto`` (bubblewrap where installed) or ``none``."""
    port, tag = free_port(), f"pool{pool}-{sandbox}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONHUB_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    env["SESSIONHUB_KERNEL_POOL_SIZE"] = str(pool)
    env["SESSIONHUB_SANDBOX"] = sandbox
    cmd = [server_python(args), "-m", "sessionhub", "serve", "--no-auth", "--host", "127.0.0.1",
           "--port", str(port), "--data-dir", str(work / f"sessionhub-{tag}"),
           "--log-level", "WARNING"]  # fmt: skip
    server = Server(f"sessionhub-{tag}", cmd, port=port, env=env,
                    log_path=work / f"sessionhub-{tag}.log")  # fmt: skip
    server.start(timeout=60)
    client = Jupyter(port, "/jupyter", "unused")
    try:
        yield client
    finally:
        client.close()
        server.stop()


@contextlib.contextmanager
def jupyter_server(python: Path, work: Path) -> Iterator[Jupyter]:
    port, token = free_port(), secrets.token_hex(16)
    home = work / "jupyter"
    root = home / "root"
    root.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON"))}
    for name, sub in (("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTER_DATA_DIR", "data"),
                      ("JUPYTER_CONFIG_DIR", "config"), ("IPYTHONDIR", "ipython")):  # fmt: skip
        env[name] = str(home / sub)
    cmd = [str(python), "-m", "jupyter_server", "--no-browser", "--allow-root",
           f"--port={port}", "--ip=127.0.0.1", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=0",
           "--log-level=WARN"]  # fmt: skip
    server = Server("jupyter_server", cmd, port=port, env=env, health_path="/api",
                    log_path=work / "jupyter_server.log")  # fmt: skip
    server.start(timeout=90)
    client = Jupyter(port, "", token)
    try:
        yield client
    finally:
        client.close()
        server.stop()


# --- report ---------------------------------------------------------------------------

ROWS = [
    ("create", "POST /api/sessions (kernel launched)"),
    ("create_to_1+1", "create -> 1+1 answered over the websocket"),
    ("list", "GET /api/sessions ({n} sessions)"),
    ("get", "GET /api/sessions/{{id}}"),
    ("delete", "DELETE /api/sessions/{{id}} (kernel shut down)"),
]


def cell(result: Json, key: str) -> str:
    if "error" in result:
        return "error"
    found = result.get(key)
    if found is None:
        return "n/a"
    return f"{found['median_ms']:.1f} [{found['p90_ms']:.1f}]"


def print_table(results: dict[str, Json], listed: int) -> None:
    columns = list(results)
    rows = [["operation (median ms [p90])", *columns]]
    for key, label in ROWS:
        rows.append([label.format(n=listed), *(cell(results[c], key) for c in columns)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in
                        enumerate(zip(row, widths, strict=True))))  # fmt: skip
        if n == 0:
            print("  ".join("-" * w for w in widths))
    for name, result in results.items():
        if "error" in result:
            print(f"{name}: {result['error']}")


# --- main -----------------------------------------------------------------------------


def run_target(name: str, plan: Plan, start: Callable[[], Any], pool: int) -> Json:
    log(f"{name}: measuring")
    try:
        with time_limit(plan.timeout, name), start() as client:
            return measure(client, plan, pool)
    except (PhaseTimeout, RuntimeError, OSError, TimeoutError, ValueError) as exc:
        log(f"{name} failed: {exc}")
        return {"error": f"{type(exc).__name__}: {exc}"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--quick", action="store_true", help="3 kernels and 20 reads per server")
    p.add_argument("--no-jupyter-server", action="store_true", help="skip jupyter_server")
    p.add_argument("--server-python", help="Python with sessionhub's dependencies")
    p.add_argument("--out", type=Path, default=HERE / "results", help="where the JSON goes")
    p.add_argument("--keep", action="store_true", help="keep the data dirs and server logs")
    p.add_argument("--unsandboxed-too", action="store_true",
                   help="also run sessionhub with SESSIONHUB_SANDBOX=none (cold and pooled)")  # fmt: skip
    args = p.parse_args(argv)
    plan = QUICK if args.quick else FULL
    work = Path(tempfile.mkdtemp(prefix="jupyter-bench-"))
    results: dict[str, Json] = {}
    if not args.no_jupyter_server:
        try:
            python = ensure_venv(JUPYTER_VENV, JUPYTER_REQUIREMENTS, sys.executable, log)
        except (OSError, RuntimeError) as exc:
            results["jupyter_server 2.21.1"] = {"error": f"venv: {exc}"}
        else:
            results["jupyter_server 2.21.1"] = run_target(
                "jupyter_server", plan, lambda: jupyter_server(python, work), 0
            )
    results["sessionhub (cold)"] = run_target(
        "sessionhub cold", plan, lambda: sessionhub(args, work, 0), 0
    )
    results[f"sessionhub (pool {plan.pool_size})"] = run_target(
        "sessionhub pool", plan, lambda: sessionhub(args, work, plan.pool_size), plan.pool_size
    )
    if args.unsandboxed_too:
        results["sessionhub (cold, no sandbox)"] = run_target(
            "sessionhub cold, no sandbox", plan, lambda: sessionhub(args, work, 0, "none"), 0
        )
        results[f"sessionhub (pool {plan.pool_size}, no sandbox)"] = run_target(
            "sessionhub pool, no sandbox", plan,
            lambda: sessionhub(args, work, plan.pool_size, "none"), plan.pool_size,
        )  # fmt: skip
    print_table(results, plan.listed)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    doc = {"plan": plan.__dict__, "results": results, "when": stamp,
           "load_average": os.getloadavg()}  # fmt: skip
    for name in (f"jupyter-{stamp}.json", "jupyter-latest.json"):
        (args.out / name).write_text(json.dumps(doc, indent=2) + "\n")
    if args.keep:
        log(f"kept {work}")
    else:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
