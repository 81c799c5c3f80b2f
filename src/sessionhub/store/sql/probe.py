"""Read a database's schema revision without changing anything (``sessionhub doctor``).

Opening the store migrates; a health check must not. SQLite is opened read-only,
PostgreSQL through one short connection; a refusal is the same one-line error the
server's start prints.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import asyncpg

from sessionhub.domain.errors import NotFound, Unavailable
from sessionhub.store.sql.db import _PG_CONNECT_ERRORS, _unreachable

CONNECT_TIMEOUT = 5.0


async def schema_revision(url: str) -> str | None:
    """The revision the database is at (None: no schema yet); NotFound: no SQLite file."""
    if url.startswith("sqlite:///"):
        return _sqlite_revision(Path(url[len("sqlite:///") :]))
    try:
        conn = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT)
    except _PG_CONNECT_ERRORS as exc:
        raise Unavailable(_unreachable(url, exc)) from None
    try:
        if not await conn.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL"):
            return None
        revision: str | None = await conn.fetchval("SELECT version_num FROM alembic_version")
        return revision
    finally:
        await asyncio.shield(conn.close())


def _sqlite_revision(path: Path) -> str | None:
    if not path.exists():
        raise NotFound(f"no database file at {path} yet")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise Unavailable(f"cannot open {path}: {exc}") from None
    try:
        known = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        ).fetchone()
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone() if known else None
    except sqlite3.DatabaseError as exc:
        raise Unavailable(f"{path} is not a readable SQLite database: {exc}") from None
    finally:
        conn.close()
    return str(row[0]) if row else None
