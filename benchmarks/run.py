"""Benchmark sessionhub against Google ADK's DatabaseSessionService and a hello-world ceiling.

    python benchmarks/run.py            # full run, SQLite then PostgreSQL (~10 minutes)
    python benchmarks/run.py --quick    # smoke run, small counts
    python benchmarks/run.py --big      # also list/tail with 1M sessions / 1M events

See benchmarks/README.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sessionhub import DirectSeed, SessionhubBench
from common import FULL, QUICK, Json, Ops, Plan, log
from harness import PhaseTimeout, Postgres, Server, ensure_venv, free_port, time_limit
from loadgen import LoadSpec, run_load, wrk_path
from proc import machine_busy_seconds, rss_bytes
from report import print_report, ratio_checks
from sandbox_bench import measure as measure_sandbox

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ADK_VENV = HERE / ".venv-adk"
ADK_REQUIREMENTS = HERE / "adk-requirements.txt"
HOST = "127.0.0.1"


# --- ADK ------------------------------------------------------------------------------


def ensure_adk_venv(base_python: str) -> Path:
    """Create (once) benchmarks/.venv-adk with the pinned ADK; return its python."""
    return ensure_venv(ADK_VENV, ADK_REQUIREMENTS, base_python, log)


def run_adk(adk_python: Path, db_url: str, plan: Plan, log_dir: Path, tag: str) -> Json:
    cmd = [
        str(adk_python),
        str(HERE / "adk_bench.py"),
        "--db-url",
        db_url,
        "--creates",
        str(plan.adk_creates),
        "--appends",
        str(plan.adk_appends),
        "--events",
        str(plan.events),
        "--sessions",
        str(plan.sessions),
        "--repeat",
        str(plan.adk_repeat),
        "--time-limit",
        str(plan.adk_time_limit),
    ]
    log_path = log_dir / f"adk-{tag}.log"
    with log_path.open("w") as err:
        proc = subprocess.run(
            cmd, stdout=subprocess.PIPE, stderr=err, text=True, timeout=plan.phase_timeout * 3
        )
    if proc.returncode != 0:
        tail = "\n".join(log_path.read_text().splitlines()[-15:])
        raise RuntimeError(f"ADK script failed ({proc.returncode}):\n{tail}")
    out: Json = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


# --- servers --------------------------------------------------------------------------


@dataclass
class ServerSetup:
    python: str
    cmd: list[str]
    env: dict[str, str]


def resolve_server(args: argparse.Namespace) -> ServerSetup:
    python = (
        args.server_python
        or os.environ.get("SESSIONHUB_BENCH_PYTHON")
        or next(
            (str(p) for p in (REPO / ".venv/bin/python",) if p.exists()),
            sys.executable,
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONHUB_")}
    if args.server_src != "none":
        src = Path(args.server_src or REPO / "src").resolve()
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    cmd = shlex.split(args.server_cmd) if args.server_cmd else [python, "-m", "sessionhub"]
    for kv in args.server_env:
        k, _, v = kv.partition("=")
        env[k] = v
    return ServerSetup(python=python, cmd=cmd, env=env)


def start_sessionhub(
    setup: ServerSetup, data_dir: Path, database_url: str | None, log_dir: Path, tag: str
) -> Server:
    port = free_port()
    env = dict(setup.env)
    env.setdefault("SESSIONHUB_SQLITE_SYNCHRONOUS", "FULL")
    if database_url:
        env["SESSIONHUB_DATABASE_URL"] = database_url
    cmd = [*setup.cmd, "serve", "--no-auth", "--host", HOST, "--port", str(port)]
    cmd += ["--data-dir", str(data_dir)]
    server = Server(
        f"sessionhub-{tag}", cmd, port=port, env=env, log_path=log_dir / f"sessionhub-{tag}.log"
    )
    server.start(timeout=60)
    return server


def start_hello(setup: ServerSetup, log_dir: Path) -> Server:
    # The same uvicorn settings as `sessionhub serve`: default loop/http (uvloop, httptools
    # when installed), no access log, one process.
    port = free_port()
    cmd = [
        setup.python,
        "-m",
        "uvicorn",
        "--app-dir",
        str(HERE),
        "hello_app:app",
        "--host",
        HOST,
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
        "--timeout-graceful-shutdown",
        "10",
    ]
    server = Server("hello", cmd, port=port, env=setup.env, log_path=log_dir / "hello.log")
    server.start(timeout=30)
    return server


# --- main -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="smoke run: small counts, short phases")
    p.add_argument("--big", action="store_true", help="also list at 1M sessions, tail at 1M events")
    p.add_argument("--only", choices=["sqlite", "postgres"], help="one database only")
    p.add_argument("--no-adk", action="store_true", help="skip Google ADK")
    p.add_argument("--no-hello", action="store_true", help="skip the hello-world ceiling")
    p.add_argument(
        "--loadgen", choices=["auto", "wrk", "python"], default="auto",
        help="wrk (if installed) or the built-in asyncio client",
    )  # fmt: skip
    p.add_argument(
        "--server-python",
        help="Python with sessionhub's dependencies "
        "[env SESSIONHUB_BENCH_PYTHON; default: <repo>/.venv/bin/python, else this one]",
    )
    p.add_argument(
        "--server-src",
        help="prepended to the server's PYTHONPATH so the code under "
        "test is this checkout's (default <repo>/src; 'none' to use the installed one)",
    )
    p.add_argument(
        "--server-cmd",
        help="command that runs the CLI instead of "
        "'<python> -m sessionhub', e.g. '/path/.venv/bin/sessionhub'",
    )
    p.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the server (repeatable)",
    )
    p.add_argument(
        "--pg-url",
        default="postgresql://postgres@127.0.0.1:5432",
        help="PostgreSQL server for throwaway databases",
    )
    p.add_argument("--sessions", type=int, help="override: sessions present when listing")
    p.add_argument("--events", type=int, help="override: events in the tail/fork/rewind session")
    p.add_argument("--export-events", type=int, help="override: events in the exported session")
    p.add_argument(
        "--wait-idle",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before each target, wait up to this long for other processes to go "
        "quiet (the machine may be shared); 0: only warn",
    )
    p.add_argument("--out", type=Path, default=HERE / "results", help="where the JSON goes")
    p.add_argument(
        "--report",
        type=Path,
        metavar="JSON",
        help="only print the table of an earlier results file",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary data dir and logs")
    return p.parse_args(argv)  # fmt: skip


def make_plan(args: argparse.Namespace) -> Plan:
    plan = QUICK if args.quick else FULL
    changes: Json = {}
    if args.big:
        changes |= {"big_sessions": 1_000_000, "big_events": 1_000_000, "seed_timeout": 3600.0}
    for name in ("sessions", "events", "export_events"):
        if getattr(args, name):
            changes[name] = getattr(args, name)
    return Plan(**(asdict(plan) | changes))


def tool_versions(setup: ServerSetup) -> Json:
    def out(cmd: list[str]) -> str:
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
            return (r.stdout or r.stderr).strip().splitlines()[0] if (r.stdout or r.stderr) else ""
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"unavailable: {exc}"

    wrk = wrk_path()
    return {
        "runner_python": sys.version.split()[0],
        "server_python": out([setup.python, "--version"]),
        "server_cmd": setup.cmd,
        "server_pythonpath": setup.env.get("PYTHONPATH"),
        "wrk": out([wrk, "--version"]) if wrk else None,
        "git": out(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]),
        "git_dirty": bool(out(["git", "-C", str(REPO), "status", "--porcelain", "--", "src"])),
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, {platform.platform()}",
    }


def machine_busy_pct(seconds: float = 2.0) -> float:
    """CPU in use on the whole machine over ``seconds``, in % of one core."""
    a, t0 = machine_busy_seconds(), time.perf_counter()
    time.sleep(seconds)
    return round(100 * (machine_busy_seconds() - a) / (time.perf_counter() - t0), 1)


def wait_idle(max_wait: float, threshold: float = 30.0) -> float:
    """Wait up to ``max_wait`` seconds for the machine to go quiet; return the last reading."""
    deadline = time.monotonic() + max_wait
    while True:
        busy = machine_busy_pct()
        if busy <= threshold:
            return busy
        if time.monotonic() >= deadline:
            log(f"the machine is busy ({busy:.0f}% of a core used by other processes): "
                "figures will be noisy")  # fmt: skip
            return busy
        log(f"waiting for the machine to go quiet ({busy:.0f}% of a core busy)")
        time.sleep(3)


def hello_load(spec: LoadSpec, pid: int, tool: str, warmup: float) -> Json:
    return run_load(spec, pid, tool, warmup).to_json()


def sqlite_commit_anchor(seconds: float = 1.0) -> float:
    """One-row durable commits per second (WAL, synchronous=FULL) on this disk, right now:
    the anchor of ARCHITECTURE.md §8, re-measured so a slow disk day shows in the results."""
    with tempfile.TemporaryDirectory(dir=HERE) as d:
        conn = sqlite3.connect(Path(d) / "anchor.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE t (x TEXT)")
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            conn.execute("BEGIN")
            conn.execute("INSERT INTO t VALUES (?)", ("x" * 300,))
            conn.execute("COMMIT")
            n += 1
        conn.close()
        return round(n / (time.perf_counter() - t0), 1)


def on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(143)  # unwinds through the cleanup in main's finally


def reprint(path: Path) -> int:
    """Print the table of a results file written earlier."""
    doc = json.loads(path.read_text())
    plan = Plan(**doc["meta"]["plan"])
    dbs = [db for db in ("sqlite", "postgres") if db in doc["results"]]
    print_report(plan, doc["results"], doc["checks"], dbs)
    for n in doc.get("notes", []):
        print(f"note: {n}")
    return 0


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, on_sigterm)
    args = parse_args(argv)
    if args.report:
        return reprint(args.report)
    plan = make_plan(args)
    setup = resolve_server(args)
    dbs = [args.only] if args.only else ["sqlite", "postgres"]
    tool = args.loadgen
    if tool == "auto" and wrk_path() is None:
        log("wrk not found (Debian: apt-get install -y wrk); using the built-in asyncio client")
    if tool == "wrk" and wrk_path() is None:
        log("--loadgen wrk but wrk is not installed (apt-get install -y wrk)")
        return 2

    started = dt.datetime.now(dt.UTC)
    results: Json = {}
    meta: Json = {
        "started": started.isoformat(timespec="seconds"),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "plan": asdict(plan),
        "loadavg_start": os.getloadavg(),
        "sqlite_durable_commits_per_s": sqlite_commit_anchor(),
        **tool_versions(setup),
    }
    notes: list[str] = []
    work = Path(tempfile.mkdtemp(prefix="sessionhub-bench-"))
    log_dir = work / "logs"
    log_dir.mkdir()
    pg = Postgres(args.pg_url, fallback_python=setup.python)
    servers: list[Server] = []
    adk_python: Path | None = None
    try:
        if not args.no_adk:
            try:
                adk_python = ensure_adk_venv(sys.executable)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
                notes.append(f"ADK not measured: could not build {ADK_VENV}: {exc}")
                log(notes[-1])

        meta["busy_before_pct"] = {"start": wait_idle(args.wait_idle)}
        if not args.no_hello:
            hello = Ops("hello", plan.phase_timeout)
            try:
                srv = start_hello(setup, log_dir)
                servers.append(srv)
                for c in (1, 50):
                    spec = LoadSpec(HOST, srv.port, "GET", ("/hello",), c, plan.max_requests,
                                    plan.load_seconds)  # fmt: skip
                    hello.run(f"hello_c{c}", partial(hello_load, spec, srv.pid, tool, plan.warmup))
                srv.stop()
            except RuntimeError as exc:
                hello.results["_server"] = {"error": str(exc)}
            results["hello"] = hello.results

        for db in dbs:
            results[db] = {}
            db_url: str | None = None
            adk_url: str
            if db == "postgres":
                why = pg.available()
                if why:
                    results[db] = {"sessionhub": {"error": f"PostgreSQL unavailable: {why}"}}
                    notes.append(f"PostgreSQL at {args.pg_url} unavailable: {why}")
                    continue
                name = pg.create(f"bench_{uuid.uuid4().hex[:12]}")
                db_url = pg.url(name)
                adk_url = pg.url(
                    pg.create(f"bench_adk_{uuid.uuid4().hex[:12]}"), "postgresql+asyncpg"
                )
            else:
                adk_url = f"sqlite+aiosqlite:///{work / 'adk.db'}"
            data_dir = work / f"data-{db}"
            data_dir.mkdir()
            if db == "postgres":
                direct = DirectSeed(pg=pg, pg_database=name)
            else:
                direct = DirectSeed(sqlite_path=data_dir / "sessionhub.db")
            ops = Ops(f"sessionhub-{db}", plan.phase_timeout)
            meta["busy_before_pct"][db] = wait_idle(args.wait_idle)
            try:
                srv = start_sessionhub(setup, data_dir, db_url, log_dir, db)
                servers.append(srv)
                meta[f"server_rss_start_mb_{db}"] = round(rss_bytes(srv.pid) / 2**20, 1)
                results[db]["sessionhub"] = SessionhubBench(srv, plan, tool, ops, direct).run()
                srv.stop()
            except RuntimeError as exc:
                ops.results["_server"] = {"error": str(exc)}
                results[db]["sessionhub"] = ops.results
                log(f"sessionhub on {db} failed: {exc}")
            if adk_python is not None:
                log(f"ADK on {db}")
                try:
                    with time_limit(plan.phase_timeout * 4, f"ADK {db}"):
                        adk = run_adk(adk_python, adk_url, plan, log_dir, db)
                    results[db]["adk"] = adk["ops"]
                    meta[f"adk_{db}"] = adk["meta"]
                except (RuntimeError, PhaseTimeout, subprocess.TimeoutExpired, ValueError) as exc:
                    results[db]["adk"] = {"error": str(exc)}
                    log(f"ADK on {db} failed: {exc}")
            if db == "postgres":
                for failure in pg.drop_all():
                    notes.append(f"could not drop {failure}")
    finally:
        for s in servers:
            s.stop()
        for failure in pg.drop_all():
            log(f"could not drop database {failure}")
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    results["sandbox"] = measure_sandbox(20 if args.quick else 100)
    notes.append(f"agent Bash `true` per call (ms), none vs bubblewrap: {results['sandbox']}")
    meta["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    meta["loadavg_end"] = os.getloadavg()
    for db in dbs:
        for who, ops_ in results.get(db, {}).items():
            for key, r in ops_.items() if isinstance(ops_, dict) else ():
                if isinstance(r, dict) and (r.get("loadgen_cpu_pct") or 0) > 85:
                    notes.append(
                        f"{db}/{who}/{key}: load generator used {r['loadgen_cpu_pct']}% of a core;"
                        " the figure may be limited by it"
                    )
    checks = ratio_checks(plan, results)
    doc = {"meta": meta, "results": results, "checks": checks, "notes": notes}
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    out_path = (
        args.out / f"{stamp}{'-quick' if args.quick else ''}{'-big' if args.big else ''}.json"
    )
    out_path.write_text(json.dumps(doc, indent=2) + "\n")
    print_report(plan, results, checks, dbs)
    for n in notes:
        print(f"note: {n}")
    print(f"results: {out_path}")
    with contextlib.suppress(OSError):
        (args.out / "latest.json").unlink(missing_ok=True)
        (args.out / "latest.json").symlink_to(out_path.name)
    failed = error_cells(results)
    if failed:
        print(f"{len(failed)} operation(s) failed: {', '.join(failed)}")
    return 1 if failed else 0


def error_cells(results: Json) -> list[str]:
    """Operations that errored (a missing endpoint or a missed target is not an error)."""
    out = []
    for target, by_who in results.items():
        groups = {"": by_who} if target == "hello" else by_who
        for who, ops in groups.items():
            if not isinstance(ops, dict):
                continue
            if "error" in ops:
                out.append(f"{target}/{who}")
            for key, r in ops.items():
                if isinstance(r, dict) and "error" in r:
                    out.append(f"{target}/{who}/{key}".replace("//", "/"))
    return out


if __name__ == "__main__":
    raise SystemExit(main())
