"""Database access below the store: one small async interface, two engines.

SQL is written once with ``:name`` parameters. SQLite runs it through the
standard ``sqlite3`` module *on the event loop* — short bounded statements
measured faster there than through any thread hop (ARCHITECTURE §3) — and only
the durable ``COMMIT`` (the fsync) goes to a dedicated thread. PostgreSQL runs
it through asyncpg, the placeholders rewritten to ``$n`` once per statement.
"""

from __future__ import annotations

import abc
import asyncio
import re
import shlex
import sqlite3
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import asyncpg
import orjson

from sessionhub import tracing
from sessionhub.config import redact_url
from sessionhub.domain.errors import Invalid, Unavailable

_PG_NUL_ERRORS = (asyncpg.CharacterNotInRepertoireError, asyncpg.UntranslatableCharacterError)
# What a client may send that a driver cannot bind: a lone UTF-16 surrogate (no UTF-8
# for it) and an integer past 64 bits. The SQLite driver raises these as they are;
# asyncpg wraps them in a DataError.
_SQLITE_UNBINDABLE = (UnicodeEncodeError, OverflowError)
Row = Mapping[str, Any]
SQLITE_SPAN = {"db.system.name": "sqlite"}
POSTGRES_SPAN = {"db.system.name": "postgresql"}
Params = Mapping[str, Any]


class Conn(abc.ABC):
    """A connection as the store sees it."""

    dialect: str

    @abc.abstractmethod
    async def fetch(self, sql: str, params: Params | None = None) -> list[Row]: ...

    @abc.abstractmethod
    async def execute(self, sql: str, params: Params | None = None) -> int:
        """Run one statement; return the number of rows it changed."""

    @abc.abstractmethod
    async def executemany(self, sql: str, rows: Sequence[Params]) -> None: ...

    async def executemany_values(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Positional (``?``) rows whose values are already SQLite's own types (SQLite only).

        The hot append path skips `executemany`'s per-value conversion this way.
        """
        raise NotImplementedError

    async def fetchrow(self, sql: str, params: Params | None = None) -> Row | None:
        rows = await self.fetch(sql, params)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, params: Params | None = None) -> Any:
        row = await self.fetchrow(sql, params)
        return None if row is None else next(iter(row.values()))

    @abc.abstractmethod
    def savepoint(self) -> Any:
        """An async context manager: a nested transaction rolled back on error."""


class Database(abc.ABC):
    """Owns the connections: a read path and the write connection(s)."""

    dialect: str
    write_depth: int = 1
    """How many write batches may be in flight at once (one per write connection)."""

    def is_retryable(self, exc: BaseException) -> bool:
        """Did the whole transaction roll back for a reason worth one more try?"""
        return False

    @abc.abstractmethod
    async def open(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    def read(self) -> Any:
        """Async context manager yielding a `Conn` for bounded reads."""

    @abc.abstractmethod
    def write_transaction(self) -> Any:
        """Async context manager yielding the write `Conn` inside one transaction."""

    def write_connection(self) -> Any:
        """Async context manager yielding a write `Conn` in autocommit (PostgreSQL only)."""
        raise NotImplementedError


# --- SQLite ---------------------------------------------------------------


def json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


_TO_SQLITE: dict[type, Any] = {
    datetime: lambda v: format_ts(v),
    dict: json_text,
    list: json_text,
    bool: int,
}


def to_sqlite(value: Any) -> Any:
    convert = _TO_SQLITE.get(type(value))
    return value if convert is None else convert(value)


def format_ts(value: datetime) -> str:
    """Fixed-width UTC ISO text: sorts lexicographically in time order."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _sqlite_params(params: Params | None) -> dict[str, Any]:
    return {k: to_sqlite(v) for k, v in (params or {}).items()}


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {d[0]: v for d, v in zip(cursor.description, row, strict=True)}


class SqliteConn(Conn):
    dialect = "sqlite"

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw
        self._savepoints = 0

    # try/except rather than `_unbindable_refused()`: free when nothing is raised,
    # and these run inline on the event loop for every read.
    async def fetch(self, sql: str, params: Params | None = None) -> list[Row]:
        try:
            return self.raw.execute(sql, _sqlite_params(params)).fetchall()
        except _SQLITE_UNBINDABLE as exc:
            raise _refusal(exc) from exc

    async def execute(self, sql: str, params: Params | None = None) -> int:
        try:
            return self.raw.execute(sql, _sqlite_params(params)).rowcount
        except _SQLITE_UNBINDABLE as exc:
            raise _refusal(exc) from exc

    async def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        try:
            self.raw.executemany(sql, [_sqlite_params(r) for r in rows])
        except _SQLITE_UNBINDABLE as exc:
            raise _refusal(exc) from exc

    async def executemany_values(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.raw.executemany(sql, rows)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        self._savepoints += 1
        name = f"sp{self._savepoints}"
        self.raw.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self.raw.execute(f"ROLLBACK TO {name}")
            self.raw.execute(f"RELEASE {name}")
            raise
        else:
            self.raw.execute(f"RELEASE {name}")


def sqlite_connect(path: Path, *, synchronous: str, readonly: bool = False) -> sqlite3.Connection:
    raw = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    raw.row_factory = _dict_row
    raw.execute("PRAGMA busy_timeout = 10000")
    if not readonly:
        raw.execute("PRAGMA journal_mode = WAL")
    raw.execute(f"PRAGMA synchronous = {synchronous}")
    raw.execute("PRAGMA foreign_keys = ON")
    # Reads stay flat as the file grows: pages come from the OS page cache through
    # mmap, not read() calls (and not a private page cache that grows the heap).
    raw.execute("PRAGMA mmap_size = 268435456")
    return raw


class SqliteDatabase(Database):
    dialect = "sqlite"

    def __init__(self, path: Path, *, synchronous: str = "FULL") -> None:
        self.path = path
        self.synchronous = synchronous
        self._writer: SqliteConn | None = None
        self._reader: SqliteConn | None = None
        self._commit_thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-commit")
        self._checkpoint_thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-checkpoint")
        self._checkpointer: asyncio.Task[None] | None = None
        self._dirty = False

    async def open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            writer = sqlite_connect(self.path, synchronous=self.synchronous)
        except (OSError, sqlite3.Error) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise Unavailable(
                f"cannot open the SQLite database {self.path}: {reason}; "
                "point --data-dir or --database-url at a folder this user can write"
            ) from None
        self._writer = SqliteConn(writer)
        self._writer.raw.execute("PRAGMA wal_autocheckpoint = 0")
        self._reader = SqliteConn(
            sqlite_connect(self.path, synchronous=self.synchronous, readonly=True)
        )
        self._checkpointer = asyncio.create_task(self._checkpoint_forever())

    async def _checkpoint_forever(self, interval: float = 0.5) -> None:
        """Copy the WAL back into the database off the commit path.

        SQLite's automatic checkpoint runs inside whichever COMMIT crosses the
        threshold and stalls every write queued behind it; a PASSIVE checkpoint on
        its own connection and thread does the same work without blocking writers.
        """
        raw = sqlite_connect(self.path, synchronous=self.synchronous, readonly=True)
        loop = asyncio.get_running_loop()
        try:
            while True:
                await asyncio.sleep(interval)
                if self._dirty:
                    self._dirty = False
                    await loop.run_in_executor(
                        self._checkpoint_thread, raw.execute, "PRAGMA wal_checkpoint(PASSIVE)"
                    )
        finally:
            # Closed on its own thread, after any checkpoint still running there.
            self._checkpoint_thread.submit(raw.close)

    async def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.cancel()
            await asyncio.gather(self._checkpointer, return_exceptions=True)
            self._checkpointer = None
        if self._writer is not None:
            self._writer.raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for conn in (self._writer, self._reader):
            if conn is not None:
                conn.raw.close()
        self._writer = self._reader = None
        self._commit_thread.shutdown(wait=True)
        self._checkpoint_thread.shutdown(wait=True)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Conn]:
        assert self._reader is not None, "database is not open"
        yield self._reader

    @asynccontextmanager
    async def write_transaction(self) -> AsyncIterator[Conn]:
        conn = self._writer
        assert conn is not None, "database is not open"
        with tracing.span("store.write", SQLITE_SPAN):
            conn.raw.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.raw.execute("ROLLBACK")
                raise
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._commit_thread, conn.raw.execute, "COMMIT")
        self._dirty = True


# --- PostgreSQL -------------------------------------------------------------

_PG_CONNECT_ERRORS = (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


def createdb_command(dsn: str) -> str:
    """The ``createdb`` line that makes the database ``dsn`` names, on the server it names.

    ``postgresql://postgres@127.0.0.1:5432/sessionhub`` gives
    ``createdb -h 127.0.0.1 -U postgres sessionhub`` (the port only when not 5432;
    never the password: createdb asks for it, or reads PGPASSWORD).
    """
    parts = urlsplit(dsn)
    name = unquote(parts.path.lstrip("/")) or "sessionhub"
    words = ["createdb"]
    if parts.hostname:
        words += ["-h", parts.hostname]
    if parts.port and parts.port != 5432:
        words += ["-p", str(parts.port)]
    if parts.username:
        words += ["-U", unquote(parts.username)]
    return " ".join([*words, shlex.quote(name)])


def _unreachable(dsn: str, exc: BaseException) -> str:
    """One line on why PostgreSQL refused the first connection, and what to check."""
    where = redact_url(dsn)
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return f"{exc} at {where}; create it ({createdb_command(dsn)}) or fix --database-url"
    reason = str(exc) or type(exc).__name__
    return f"cannot reach the database at {where}: {reason}; check --database-url"


_PARAM = re.compile(r"(?<!:):([A-Za-z_]\w*)")


@lru_cache(maxsize=512)
def pg_sql(sql: str) -> tuple[str, tuple[str, ...]]:
    """Rewrite ``:name`` placeholders to asyncpg's ``$n``; names in order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _PARAM.sub(number, sql), tuple(names)


def _pg_args(names: tuple[str, ...], params: Params | None) -> list[Any]:
    params = params or {}
    return [params[n] for n in names]


@contextmanager
def _unbindable_refused() -> Iterator[None]:
    """PostgreSQL takes no NUL in text or jsonb, not even to look a row up; neither
    database binds a lone surrogate or an integer past 64 bits. Each is a client's
    mistake (models refuse them before a write), so a 400, not a database failure."""
    try:
        yield
    except _PG_NUL_ERRORS as exc:
        raise Invalid("text with NUL characters (\\u0000) is not accepted") from exc
    except asyncpg.DataError as exc:
        if not isinstance(exc.__cause__, _SQLITE_UNBINDABLE):
            raise
        raise _refusal(exc.__cause__) from exc


class PgConn(Conn):
    dialect = "postgresql"

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    async def fetch(self, sql: str, params: Params | None = None) -> list[Row]:
        text, names = pg_sql(sql)
        with _unbindable_refused():
            return list(await self.raw.fetch(text, *_pg_args(names, params)))

    async def execute(self, sql: str, params: Params | None = None) -> int:
        text, names = pg_sql(sql)
        with _unbindable_refused():
            status: str = await self.raw.execute(text, *_pg_args(names, params))
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        text, names = pg_sql(sql)
        with _unbindable_refused():
            await self.raw.executemany(text, [_pg_args(names, r) for r in rows])

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        async with self.raw.transaction():
            yield


def _refusal(exc: BaseException) -> Invalid:
    if isinstance(exc, UnicodeEncodeError):
        return Invalid("text with lone UTF-16 surrogates (\\ud800-\\udfff) is not accepted")
    return Invalid("an integer past 64 bits is not accepted")


async def _init_pg_connection(conn: Any) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name,
            encoder=lambda v: orjson.dumps(v).decode(),
            decoder=orjson.loads,
            schema="pg_catalog",
        )


class PostgresDatabase(Database):
    """A read pool, and ``writers`` write connections for pipelined batches.

    With one write connection a batch's round trips (a plain append batch is one
    autocommit statement, other batches BEGIN … COMMIT) are the latency every waiting
    client pays twice; with two, the next batch starts while the last commits, and row
    locks keep each session's seq in order.
    """

    dialect = "postgresql"

    def __init__(self, dsn: str, *, pool_size: int = 10, writers: int = 2) -> None:
        self.dsn = dsn
        self.pool_size = pool_size
        self.write_depth = writers
        self.pool: Any = None
        self._writers: asyncio.Queue[Any] = asyncio.Queue()
        self._all_writers: list[Any] = []

    async def open(self) -> None:
        try:
            self.pool = await asyncpg.create_pool(
                self.dsn, min_size=1, max_size=self.pool_size, init=_init_pg_connection
            )
        except _PG_CONNECT_ERRORS as exc:
            raise Unavailable(_unreachable(self.dsn, exc)) from None
        for _ in range(self.write_depth):
            self._writers.put_nowait(await self._fresh_writer())

    async def _fresh_writer(self) -> Any:
        conn = await self.connect_raw("sessionhub-writer")
        await _init_pg_connection(conn)
        self._all_writers.append(conn)
        return conn

    async def close(self) -> None:
        for conn in self._all_writers:
            if not conn.is_closed():
                await conn.close()
        self._all_writers.clear()
        self._writers = asyncio.Queue()
        if self.pool is not None:
            await self.pool.close()
        self.pool = None

    def is_retryable(self, exc: BaseException) -> bool:

        return isinstance(exc, asyncpg.TransactionRollbackError)  # deadlock, serialization

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Conn]:
        async with self.pool.acquire() as raw:
            yield PgConn(raw)

    @asynccontextmanager
    async def write_connection(self) -> AsyncIterator[PgConn]:
        """A free write connection, in autocommit.

        A batch that fails because the connection broke is reported to its callers
        (503, which clients retry); the connection is replaced for the next batch.
        """
        conn = await self._writers.get()
        try:
            if conn.is_closed():
                self._all_writers.remove(conn)
                conn = await self._fresh_writer()
            yield PgConn(conn)
        finally:
            self._writers.put_nowait(conn)

    @asynccontextmanager
    async def write_transaction(self) -> AsyncIterator[Conn]:
        """One transaction on a free write connection."""
        with tracing.span("store.write", POSTGRES_SPAN):
            async with self.write_connection() as conn, conn.raw.transaction():
                yield conn

    async def connect_raw(self, name: str = "sessionhub") -> Any:
        """A dedicated connection outside the pool (LISTEN needs one)."""

        return await asyncpg.connect(self.dsn, server_settings={"application_name": name})
