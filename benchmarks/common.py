"""Shared pieces of the benchmark runner: the plan (counts and time limits), logging and
the per-target record of results."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness import EndpointMissing, HttpFailure, PhaseTimeout, time_limit
from loadgen import HttpError

Json = dict[str, Any]


@dataclass(frozen=True)
class Plan:
    load_seconds: float  # each throughput phase (create, get, append)
    read_seconds: float  # each read-latency phase (list, tail, get at N events)
    max_requests: int  # cap per load phase, on top of the time limit
    sessions: int  # sessions present when the first page is listed
    events: int  # events in the session read by tail, forked, rewound
    export_events: int
    big_sessions: int | None
    big_events: int | None
    repeats: int  # fork, rewind, export repetitions
    adk_creates: int
    adk_appends: int
    adk_repeat: int
    adk_time_limit: float
    phase_timeout: float  # any single phase
    seed_timeout: float  # any seeding step
    warmup: float  # unrecorded warm-up before each load phase, seconds


FULL = Plan(
    load_seconds=10,
    read_seconds=5,
    max_requests=500_000,
    sessions=10_000,
    events=10_000,
    export_events=100_000,
    big_sessions=None,
    big_events=None,
    repeats=3,
    adk_creates=3_000,
    adk_appends=3_000,
    adk_repeat=5,
    adk_time_limit=15,
    phase_timeout=180,
    seed_timeout=600,
    warmup=1,
)
QUICK = Plan(
    load_seconds=1,
    read_seconds=1,
    max_requests=20_000,
    sessions=300,
    events=500,
    export_events=2_000,
    big_sessions=None,
    big_events=None,
    repeats=1,
    adk_creates=100,
    adk_appends=100,
    adk_repeat=1,
    adk_time_limit=5,
    phase_timeout=60,
    seed_timeout=60,
    warmup=0,
)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def count_label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


# --- ops recording ------------------------------------------------------------------------


class Ops:
    """Results of one target (sessionhub on one database, ADK, hello); a failed op never
    stops the others."""

    def __init__(self, name: str, phase_timeout: float) -> None:
        self.name = name
        self.phase_timeout = phase_timeout
        self.results: dict[str, Json] = {}

    def run(self, key: str, fn: Callable[[], Json], timeout: float | None = None) -> Json | None:
        log(f"{self.name}: {key}")
        try:
            with time_limit(timeout or self.phase_timeout, f"{self.name} {key}"):
                result = fn()
        except EndpointMissing as exc:
            self.results[key] = {"na": f"endpoint missing: {exc}"}
        except (PhaseTimeout, HttpFailure, HttpError, RuntimeError, OSError, ValueError) as exc:
            self.results[key] = {"error": f"{type(exc).__name__}: {exc}"}
            log(f"  {key} failed: {exc}")
        else:
            self.results[key] = result
            return result
        return None
