"""Fast seeding of many sessions straight into the server's database (used by ``--big``).

Creating 1M sessions through ``POST /v1/sessions`` runs at the server's create rate
(hundreds to a few thousand per second here: 10-40 minutes per database), so for the 1M
listing the runner copies one session that the API created, N times, with fresh ids and
strictly older ``created_at`` values, in one transaction. Every column is copied from the
template row except the ones that must differ (id, name, idempotency key and request hash,
timestamps), so the rows are what the server itself writes. Those rows have no session
directory on disk, which listing does not read.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import time
import uuid
from datetime import datetime, timedelta

from harness import Postgres

_NULLED = ("name", "idempotency_key", "request_hash")


def _columns_sqlite(conn: sqlite3.Connection) -> list[str]:
    return [row[1] for row in conn.execute("PRAGMA table_info(sessions)")]


def seed_sqlite(db_path: str, template_id: str, n: int, chunk: int = 50_000) -> float:
    """Insert ``n`` copies of session ``template_id``; return the seconds it took."""
    t0 = time.perf_counter()
    conn = sqlite3.connect(db_path, timeout=60, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 60000")
        cols = _columns_sqlite(conn)
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM sessions WHERE id = ?", (template_id,)).fetchone()
        if row is None:
            raise RuntimeError(f"template session {template_id} not found in {db_path}")
        template = dict(row)
        created_raw = str(template["created_at"])
        # Keep the text form the server writes (e.g. 2026-11-21T15:14:10.123456+00:00).
        iso = re.sub(r"(\+00:00|Z)$", "", created_raw)
        suffix = created_raw[len(iso) :]
        sep = "T" if "T" in iso else " "
        base = datetime.fromisoformat(iso)
        placeholders = ", ".join("?" for _ in cols)
        sql = f"INSERT INTO sessions ({', '.join(cols)}) VALUES ({placeholders})"
        conn.execute("BEGIN IMMEDIATE")
        for start in range(0, n, chunk):
            batch = []
            for i in range(start, min(n, start + chunk)):
                at = (base - timedelta(milliseconds=i + 1)).isoformat(sep=sep) + suffix
                values = dict(template, id=str(uuid.uuid4()), created_at=at, updated_at=at)
                values.update({c: None for c in _NULLED if c in values})
                batch.append(tuple(values[c] for c in cols))
            conn.executemany(sql, batch)
        conn.execute("COMMIT")
    finally:
        conn.close()
    return time.perf_counter() - t0


def seed_postgres(pg: Postgres, database: str, template_id: str, n: int) -> float:
    """Insert ``n`` copies of session ``template_id`` with one INSERT … SELECT."""
    t0 = time.perf_counter()
    cols = _psql(
        pg,
        database,
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = 'sessions' AND table_schema = current_schema() "
        "ORDER BY ordinal_position",
    ).split()
    if not cols:
        raise RuntimeError("no sessions table found")
    exprs = []
    for c in cols:
        if c == "id":
            exprs.append("gen_random_uuid()::text")
        elif c in _NULLED:
            exprs.append("NULL")
        elif c in ("created_at", "updated_at"):
            exprs.append("s.created_at - g * interval '1 millisecond'")
        else:
            exprs.append(f's."{c}"')
    quoted = ", ".join(f'"{c}"' for c in cols)
    _psql(
        pg,
        database,
        f"INSERT INTO sessions ({quoted}) SELECT {', '.join(exprs)} "
        f"FROM sessions s, generate_series(1, {int(n)}) AS g WHERE s.id = '{template_id}'; "
        "ANALYZE sessions;",
    )
    return time.perf_counter() - t0


def analyze_postgres(pg: Postgres, database: str) -> None:
    """Refresh planner statistics, as autovacuum would on a live server, before measuring."""
    _psql(pg, database, "ANALYZE")


def _psql(pg: Postgres, database: str, sql: str) -> str:
    cmd = ["psql", "-h", pg.host, "-p", str(pg.port), "-U", pg.user, "-d", database]
    cmd += ["-v", "ON_ERROR_STOP=1", "-qAtc", sql]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"psql failed: {proc.stderr.strip()}")
    return proc.stdout
