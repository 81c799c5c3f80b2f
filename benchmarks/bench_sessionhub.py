"""The sessionhub side of the benchmark: every operation, against one running server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from common import Json, Ops, Plan, count_label, log
from harness import Client, Postgres, Server, check_status
from loadgen import LoadSpec, fire, run_load
from proc import PeakRss
from seed_direct import analyze_postgres, seed_postgres, seed_sqlite

HOST = "127.0.0.1"
# ~300 bytes on the wire per append: {"type":"message","role":"user","payload":{"text":"xxx…"}}
APPEND_BODY = json.dumps(
    {"type": "message", "role": "user", "payload": {"text": "x" * 247}}, separators=(",", ":")
).encode()
CREATE_BODY = b'{"kind":"generic","title":"bench"}'


@dataclass(frozen=True)
class DirectSeed:
    """Where ``--big`` may write sessions straight into the server's database."""

    sqlite_path: Path | None = None
    pg: Postgres | None = None
    pg_database: str | None = None
    threshold: int = 50_000  # below this many, sessions are created through the API


class SessionhubBench:
    def __init__(self, server: Server, plan: Plan, tool: str, ops: Ops, direct: DirectSeed) -> None:
        self.server, self.plan, self.tool, self.ops = server, plan, tool, ops
        self.direct = direct
        self.client = Client(server.port, timeout=120)
        self.sessions_created = 0

    # helpers
    def create_session(self, **body: Any) -> Json:
        s: Json = self.client.call("POST", "/v1/sessions", body or {"kind": "generic"}, expect=201)
        self.sessions_created += 1
        return s

    def load(
        self,
        method: str,
        paths: list[str],
        concurrency: int,
        seconds: float,
        body: bytes | None = None,
    ) -> Json:
        # One request first, so that a missing endpoint is named instead of being counted
        # as thousands of failed requests.
        status, headers, data = self.client.raw(method, paths[0], body)
        check_status(method, paths[0], status, headers, data, None)
        spec = LoadSpec(
            host=HOST,
            port=self.server.port,
            method=method,
            paths=tuple(paths),
            concurrency=concurrency,
            max_requests=self.plan.max_requests,
            duration=seconds,
            body=body,
            headers=(("Content-Type", "application/json"),) if body is not None else (),
        )
        result = run_load(spec, self.server.pid, self.tool, self.plan.warmup).to_json()
        if result["errors"]:
            log(f"  {result['errors']} failed requests, first: {result['first_error']}")
        return result

    def seed_sessions(self, target: int) -> Json:
        n = target - self.sessions_created
        t0 = time.perf_counter()
        if n > self.direct.threshold and (self.direct.sqlite_path or self.direct.pg):
            template = self.create_session(title="bench")["id"]
            n -= 1
            if self.direct.sqlite_path:
                seed_sqlite(str(self.direct.sqlite_path), template, n)
            else:
                assert self.direct.pg and self.direct.pg_database
                seed_postgres(self.direct.pg, self.direct.pg_database, template, n)
            self.sessions_created += n
            secs = time.perf_counter() - t0
            return {"seeded": n, "seconds": round(secs, 2), "per_s": round(n / secs, 1),
                    "via": "direct SQL (seed_direct.py)"}  # fmt: skip
        if n > 0:
            deadline = time.monotonic() + self.plan.seed_timeout
            reqs = (("POST", "/v1/sessions", CREATE_BODY) for _ in range(n))
            asyncio.run(fire(HOST, self.server.port, reqs, concurrency=16, deadline=deadline))
            self.sessions_created += n
        self.analyze()
        secs = time.perf_counter() - t0
        per_s = round(n / secs, 1) if n > 0 else None
        return {"seeded": max(n, 0), "seconds": round(secs, 2), "per_s": per_s, "via": "API"}

    def analyze(self) -> None:
        if self.direct.pg and self.direct.pg_database:
            analyze_postgres(self.direct.pg, self.direct.pg_database)

    def seed_events(self, session_id: str, n: int) -> Json:
        t0 = time.perf_counter()
        event = {"type": "message", "role": "user", "payload": {"text": "x" * 247}}
        deadline = time.monotonic() + self.plan.seed_timeout
        path = f"/v1/sessions/{session_id}/events/batch"

        def batches() -> Iterator[tuple[str, str, bytes]]:
            left = n
            while left > 0:
                k = min(1000, left)
                left -= k
                yield "POST", path, json.dumps({"events": [event] * k}).encode()

        asyncio.run(fire(HOST, self.server.port, batches(), concurrency=2, deadline=deadline))
        self.analyze()
        secs = time.perf_counter() - t0
        per_s = round(n / secs, 1) if n > 0 else None
        return {"seeded": n, "seconds": round(secs, 2), "per_s": per_s, "via": "API batch"}

    def session_events(self, session_id: str) -> int:
        s = self.client.call("GET", f"/v1/sessions/{session_id}")
        return int(s["last_seq"])

    # phases
    def run(self) -> dict[str, Json]:
        p, ops = self.plan, self.ops
        seeding: Json = {}
        self.create_session()  # the first request, before any timing

        for c in (1, 50):
            r = ops.run(
                f"create_c{c}",
                partial(self.load, "POST", ["/v1/sessions"], c, p.load_seconds, CREATE_BODY),
            )
            if r:
                self.sessions_created += int(r["n"]) + 1

        few = [self.create_session()["id"] for _ in range(10)]
        for c in (1, 50):
            ops.run(
                f"get_c{c}",
                partial(self.load, "GET", [f"/v1/sessions/{i}" for i in few], c, p.load_seconds),
            )

        targets = [self.create_session()["id"] for _ in range(50)]
        for key, ids, c in (
            ("append_c1", targets[:1], 1),
            ("append_c50", targets, 50),
            ("append_c50_one", targets[:1], 50),
        ):
            paths = [f"/v1/sessions/{i}/events" for i in ids]
            r = ops.run(
                key,
                partial(self.load, "POST", paths, c, p.load_seconds, APPEND_BODY),
            )
            if r:
                r["sessions"] = len(ids)
                r["body_bytes"] = len(APPEND_BODY)

        def list_page(n: int) -> Json:
            seeding[f"sessions_{count_label(n)}"] = self.seed_sessions(n)
            page = self.client.call("GET", "/v1/sessions?limit=50")
            if len(page["items"]) != 50:
                raise RuntimeError(f"first page has {len(page['items'])} items, expected 50")
            r = self.load("GET", ["/v1/sessions?limit=50"], 1, p.read_seconds)
            r["sessions_present"] = self.sessions_created
            return r

        ops.run(f"list_{count_label(p.sessions)}", lambda: list_page(p.sessions), p.seed_timeout)

        reader = self.create_session(title="reader")["id"]

        def tail(n: int) -> Json:
            have = self.session_events(reader)
            seeding[f"events_{count_label(n)}"] = self.seed_events(reader, n - have)
            if self.session_events(reader) != n:
                raise RuntimeError("event seeding did not reach the target")
            items = self.client.call("GET", f"/v1/sessions/{reader}/events/tail?limit=50")["items"]
            if len(items) != 50 or items[-1]["seq"] != n:
                raise RuntimeError("tail-50 did not return the last 50 events")
            r = self.load("GET", [f"/v1/sessions/{reader}/events/tail?limit=50"], 1, p.read_seconds)
            r["events_present"] = n
            return r

        ops.run(f"tail_{count_label(p.events)}", lambda: tail(p.events), p.seed_timeout)
        ops.run(
            f"get_at_{count_label(p.events)}",
            lambda: self.load("GET", [f"/v1/sessions/{reader}"], 1, p.read_seconds),
        )

        forks: list[str] = []

        def fork() -> Json:
            times = []
            for _ in range(p.repeats):
                t0 = time.perf_counter()
                s = self.client.call("POST", f"/v1/sessions/{reader}/fork", {}, expect=201)
                times.append(time.perf_counter() - t0)
                self.sessions_created += 1
                forks.append(s["id"])
                if s["last_seq"] != p.events:
                    raise RuntimeError(f"fork has last_seq {s['last_seq']}, expected {p.events}")
            return timed(times, events=p.events)

        def rewind() -> Json:
            times = []
            for fid in forks:
                first = self.client.call("GET", f"/v1/sessions/{fid}/events?limit=1")["items"][0]
                body = {"to_event_id": first["id"], "cleanup_files": False}
                t0 = time.perf_counter()
                res = self.client.call("POST", f"/v1/sessions/{fid}/rewind", body, expect=200)
                times.append(time.perf_counter() - t0)
                if res["deleted_events"] != p.events - 1:
                    raise RuntimeError(f"rewind deleted {res['deleted_events']} events")
            if not times:
                raise RuntimeError("no fork to rewind")
            return timed(times, events=p.events, deleted=p.events - 1)

        ops.run(f"fork_{count_label(p.events)}", fork)
        ops.run(f"rewind_{count_label(p.events)}", rewind)

        def export() -> Json:
            sid = self.create_session(title="export")["id"]
            seeding[f"export_events_{count_label(p.export_events)}"] = self.seed_events(
                sid, p.export_events
            )
            runs = []
            for _ in range(p.repeats):
                with PeakRss(self.server.pid) as rss:
                    t0 = time.perf_counter()
                    status, headers, body = self.client.stream("GET", f"/v1/sessions/{sid}/export")
                    chunks = list(body)
                    secs = time.perf_counter() - t0
                if status != 200:
                    check_status("GET", "/export", status, headers, b"".join(chunks), 200)
                doc = json.loads(b"".join(chunks))
                if len(doc["events"]) != p.export_events:
                    raise RuntimeError(f"export held {len(doc['events'])} events")
                runs.append(
                    {
                        "seconds": round(secs, 3),
                        "bytes": sum(map(len, chunks)),
                        "rss_before_mb": round(rss.baseline / 2**20, 1),
                        "rss_peak_mb": round(rss.peak / 2**20, 1),
                        "rss_samples": rss.samples,
                    }
                )
            best = min(runs, key=lambda r: r["seconds"])
            return {
                "kind": "export",
                "events": p.export_events,
                "seconds": best["seconds"],
                "bytes": best["bytes"],
                "rss_before_mb": runs[0]["rss_before_mb"],
                "rss_peak_mb": max(r["rss_peak_mb"] for r in runs),
                "runs": runs,
            }

        ops.run(f"export_{count_label(p.export_events)}", export, p.seed_timeout)

        if p.big_sessions:
            ops.run(
                f"list_{count_label(p.big_sessions)}",
                lambda: list_page(p.big_sessions or 0),
                p.seed_timeout,
            )
        if p.big_events:
            ops.run(
                f"tail_{count_label(p.big_events)}", lambda: tail(p.big_events or 0), p.seed_timeout
            )
            ops.run(
                f"get_at_{count_label(p.big_events)}",
                lambda: self.load("GET", [f"/v1/sessions/{reader}"], 1, p.read_seconds),
            )
        self.client.close()
        ops.results["_seeding"] = seeding
        return ops.results


def timed(times: list[float], **extra: Any) -> Json:
    ms = sorted(t * 1000 for t in times)
    return {
        "kind": "timed",
        "n": len(ms),
        "p50_ms": round(ms[len(ms) // 2], 2),
        "min_ms": round(ms[0], 2),
        "max_ms": round(ms[-1], 2),
        **extra,
    }
