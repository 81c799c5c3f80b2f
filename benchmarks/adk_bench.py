"""Benchmark Google ADK's ``DatabaseSessionService`` in-process; prints one JSON object.

Runs inside its own virtual environment (``benchmarks/.venv-adk``, made by ``run.py``),
never in the server's. The calls are in-process coroutine calls: no HTTP and no JSON
encoding is in ADK's figures, which favours ADK in any comparison with sessionhub's.

Measured, on the database URL given (``sqlite+aiosqlite:///…`` or ``postgresql+asyncpg://…``):

- ``create_session`` at 1 and 50 concurrent coroutines;
- ``append_event`` (one user event whose text is ~300 bytes) at 1 and 50 concurrent
  coroutines, each coroutine appending to its own session (ADK serialises appends to one
  session with an in-process lock and rejects appends through a stale session object, so a
  shared session would measure that lock, not the database);
- ``get_session`` of a session holding N events (ADK loads every event);
- ``list_sessions`` of a user owning N sessions (ADK's listing is unpaged).

The N-event session and the N sessions are seeded through ADK's own ORM rows in one
transaction (``StorageEvent.from_event`` / ``StorageSession``), because seeding 10k rows
through ``append_event`` at ~200/s would take most of a minute and measures nothing new.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from google.adk.events.event import Event
from google.adk.sessions.database_session_service import DatabaseSessionService
from google.adk.sessions.session import Session
from google.genai import types

APP = "bench"
TEXT = "x" * 280  # with the event's envelope this stores ~300 bytes of payload


def log(msg: str) -> None:
    print(f"[adk] {msg}", file=sys.stderr, flush=True)


def percentile(sorted_ms: list[float], q: float) -> float:
    if not sorted_ms:
        return float("nan")
    k = min(len(sorted_ms) - 1, max(0, round(q / 100 * (len(sorted_ms) - 1))))
    return sorted_ms[k]


def summarise(latencies: list[float], errors: int, seconds: float) -> dict[str, Any]:
    lat = sorted(x * 1000 for x in latencies)
    return {
        "n": len(lat),
        "errors": errors,
        "seconds": round(seconds, 4),
        "rps": round(len(lat) / seconds, 1) if seconds > 0 else None,
        "p50_ms": round(percentile(lat, 50), 3),
        "p99_ms": round(percentile(lat, 99), 3),
        "mean_ms": round(statistics.fmean(lat), 3) if lat else None,
    }


async def run_workers(
    op: Callable[[int], Awaitable[object]],
    *,
    concurrency: int,
    total: int,
    time_limit: float,
) -> dict[str, Any]:
    """Run ``total`` calls of ``op(worker)`` spread over ``concurrency`` workers.

    Bounded in count and in time: a worker stops when the count is used up or the time
    limit has passed, whichever comes first.
    """
    latencies: list[float] = []
    errors = 0
    remaining = total
    first_error: list[str] = []
    deadline = time.perf_counter() + time_limit

    async def worker(w: int) -> None:
        nonlocal remaining, errors
        while remaining > 0 and time.perf_counter() < deadline:
            remaining -= 1
            t0 = time.perf_counter()
            try:
                await op(w)
            except Exception as exc:  # a benchmark counts failures, it does not stop on them
                errors += 1
                if not first_error:
                    first_error.append(f"{type(exc).__name__}: {exc}")
                continue
            latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    result = summarise(latencies, errors, time.perf_counter() - t0)
    result["concurrency"] = concurrency
    if first_error:
        result["first_error"] = first_error[0]
    return result


async def timed_repeat(op: Callable[[], Awaitable[object]], repeat: int) -> dict[str, Any]:
    latencies: list[float] = []
    t0 = time.perf_counter()
    for _ in range(repeat):
        t = time.perf_counter()
        await op()
        latencies.append(time.perf_counter() - t)
    return summarise(latencies, 0, time.perf_counter() - t0)


def make_event(i: int) -> Event:
    return Event(
        author="user",
        invocation_id=f"inv-{i}",
        content=types.Content(role="user", parts=[types.Part(text=TEXT)]),
    )


async def seed_events(svc: DatabaseSessionService, session: Session, n: int) -> None:
    schema = svc._get_schema_classes()  # ADK's own ORM rows, the same ones append_event writes
    base = datetime.now(UTC) - timedelta(seconds=n)
    chunk = 2000
    async with svc._rollback_on_exception_session() as sql:
        for start in range(0, n, chunk):
            rows = []
            for i in range(start, min(n, start + chunk)):
                ev = make_event(i)
                ev.timestamp = (base + timedelta(milliseconds=i)).timestamp()
                rows.append(schema.StorageEvent.from_event(session, ev))
            sql.add_all(rows)
            await sql.flush()
        await sql.commit()


async def seed_sessions(svc: DatabaseSessionService, user_id: str, n: int) -> None:
    await svc.create_session(app_name=APP, user_id=user_id)  # creates the state rows
    schema = svc._get_schema_classes()
    naive = svc._uses_naive_datetime()
    now = datetime.now(UTC)
    if naive:
        now = now.replace(tzinfo=None)
    chunk = 2000
    async with svc._rollback_on_exception_session() as sql:
        for start in range(1, n, chunk):
            sql.add_all(
                schema.StorageSession(
                    app_name=APP,
                    user_id=user_id,
                    id=str(uuid.uuid4()),
                    state={},
                    create_time=now,
                    update_time=now,
                )
                for _ in range(start, min(n, start + chunk))
            )
            await sql.flush()
        await sql.commit()


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    svc = DatabaseSessionService(db_url=args.db_url)
    out: dict[str, Any] = {"ops": {}, "meta": {}}
    ops: dict[str, Any] = out["ops"]
    try:
        import google.adk

        out["meta"]["adk_version"] = getattr(google.adk, "__version__", "?")
        out["meta"]["dialect"] = svc.db_engine.dialect.name
        await svc.prepare_tables()
        if svc.db_engine.dialect.name == "sqlite":
            async with svc.db_engine.connect() as conn:
                jm = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
                sync = (await conn.exec_driver_sql("PRAGMA synchronous")).scalar()
            out["meta"]["sqlite_journal_mode"] = jm
            out["meta"]["sqlite_synchronous"] = sync
        tl = args.time_limit

        for c in (1, 50):
            log(f"create_session c={c}")
            ops[f"create_c{c}"] = await run_workers(
                lambda _w: svc.create_session(app_name=APP, user_id="creator"),
                concurrency=c,
                total=args.creates,
                time_limit=tl,
            )

        for c in (1, 50):
            log(f"append_event c={c}")
            sessions = [
                await svc.create_session(app_name=APP, user_id=f"appender-{c}") for _ in range(c)
            ]
            counter = iter(range(10**9))

            async def append(
                w: int, sessions: list[Session] = sessions, counter: Iterator[int] = counter
            ) -> None:
                await svc.append_event(sessions[w], make_event(next(counter)))

            ops[f"append_c{c}"] = await run_workers(
                append, concurrency=c, total=args.appends, time_limit=tl
            )

        log(f"seed {args.events} events, then get_session")
        big = await svc.create_session(app_name=APP, user_id="reader")
        t = time.perf_counter()
        await seed_events(svc, big, args.events)
        out["meta"]["seed_events_seconds"] = round(time.perf_counter() - t, 2)
        got = await svc.get_session(app_name=APP, user_id="reader", session_id=big.id)
        assert got is not None and len(got.events) == args.events, "seeding failed"
        ops["get_session_events"] = await timed_repeat(
            lambda: svc.get_session(app_name=APP, user_id="reader", session_id=big.id),
            args.repeat,
        )
        ops["get_session_events"]["events"] = args.events

        log(f"seed {args.sessions} sessions, then list_sessions")
        t = time.perf_counter()
        await seed_sessions(svc, "lister", args.sessions)
        out["meta"]["seed_sessions_seconds"] = round(time.perf_counter() - t, 2)
        listed = await svc.list_sessions(app_name=APP, user_id="lister")
        assert len(listed.sessions) == args.sessions, "seeding failed"
        ops["list_sessions"] = await timed_repeat(
            lambda: svc.list_sessions(app_name=APP, user_id="lister"), args.repeat
        )
        ops["list_sessions"]["sessions"] = args.sessions
    finally:
        await svc.close()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db-url", required=True)
    p.add_argument("--creates", type=int, default=2000)
    p.add_argument("--appends", type=int, default=2000)
    p.add_argument("--events", type=int, default=10_000)
    p.add_argument("--sessions", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--time-limit", type=float, default=15.0, help="seconds per load phase")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(main_async(args))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
