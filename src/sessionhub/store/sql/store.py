"""`SqlSessionStore`: the store on SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sessionhub.domain.errors import Invalid, NotFound, Unavailable
from sessionhub.domain.machines import Machine, MachineCreate, SlotClaim
from sessionhub.domain.models import (
    ApiKey,
    Event,
    EventCreate,
    Page,
    Principal,
    Run,
    RunStatus,
    Session,
    SessionCreate,
    SessionQuery,
    SessionUpdate,
    Workspace,
)
from sessionhub.domain.nodes import Lease, Node
from sessionhub.store import migrations
from sessionhub.store.base import (
    Created,
    Listener,
    NewKey,
    PayloadRewrite,
    Rewound,
    SessionStore,
)
from sessionhub.store.sql import conditions, jobs, jobs_admin, jobs_machines, jobs_nodes
from sessionhub.store.sql.db import Conn, Database, PostgresDatabase, SqliteDatabase
from sessionhub.store.sql.rows import (
    decode_cursor,
    encode_cursor,
    event_from_row,
    hash_secret,
    key_from_row,
    run_from_row,
    session_from_row,
    workspace_from_row,
)
from sessionhub.store.sql.writer import PG_CHANNEL, Notice, Writer

log = logging.getLogger(__name__)
METADATA_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


class SqlSessionStore(SessionStore):
    def __init__(self, db: Database, *, url: str) -> None:
        self.db = db
        self.url = url
        self.dialect = db.dialect
        self._listeners: list[Listener] = []
        self.writer = Writer(db, publish=self._publish)
        self._open = False
        self._lock = asyncio.Lock()
        self._pg_listener: Any = None
        self._relisten: asyncio.Future[None] | None = None
        self._owner: str | None = None

    # lifecycle
    async def open(self) -> None:
        async with self._lock:
            if self._open:
                return
            await self.db.open()
            await asyncio.to_thread(migrations.upgrade, self.url)
            self.writer.start()
            if isinstance(self.db, PostgresDatabase):
                await self._listen()
            self._open = True

    async def close(self) -> None:
        async with self._lock:
            if not self._open:
                return
            self._open = False
            await self.writer.stop()
            if self._relisten is not None:
                self._relisten.cancel()
            if self._pg_listener is not None and not self._pg_listener.is_closed():
                await self._pg_listener.close()
                self._pg_listener = None
            await self.db.close()

    async def _listen(self) -> None:
        assert isinstance(self.db, PostgresDatabase)
        listener = await self.db.connect_raw("sessionhub-listener")
        await listener.add_listener(PG_CHANNEL, self._on_pg_notify)
        listener.add_termination_listener(self._on_listener_lost)
        if self._owner is not None:
            await listener.execute("SELECT pg_advisory_lock(hashtext($1))", self._owner)
        self._pg_listener = listener

    def _on_listener_lost(self, _conn: Any) -> None:
        if self._open:
            self._relisten = asyncio.ensure_future(self._listen_again())

    async def _listen_again(self) -> None:
        """Reconnect LISTEN with backoff, then make every waiter re-read what it missed."""
        delay = 0.1
        while self._open:
            try:
                await self._listen()
            except Exception as exc:
                log.warning("LISTEN connection lost; retrying in %.1fs (%s)", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            log.info("LISTEN connection re-established")
            self._deliver("resync", "*", 0)
            return

    def _on_pg_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        topic, session_id, seq = payload.split("|")
        self._deliver(topic, session_id, int(seq))

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _publish(self, notices: list[Notice]) -> None:
        """Local delivery right after commit; other processes hear PostgreSQL's NOTIFY."""
        for notice in notices:
            self._deliver(notice.topic, notice.session_id, notice.seq)

    def _deliver(self, topic: str, session_id: str, seq: int) -> None:
        for listener in list(self._listeners):
            try:
                listener(topic, session_id, seq)
            except Exception:
                log.exception("a store listener failed")

    async def _read(self) -> Any:
        if not self._open:
            raise Unavailable("the store is not open")
        return self.db.read()

    # sessions
    async def create_session(
        self,
        *,
        workspace_id: str,
        spec: SessionCreate,
        idempotency_key: str | None = None,
        if_exists: str = "error",
        session_id: str | None = None,
        forked: tuple[str, str | None] | None = None,
    ) -> Created:
        job = jobs.CreateSession(workspace_id, spec, idempotency_key, if_exists, session_id, forked)
        return await self.writer.submit(job)

    async def get_session(self, *, workspace_id: str, session_id: str) -> Session:
        async with await self._read() as conn:
            row = await conn.fetchrow(
                f"SELECT {jobs.SESSION_COLUMNS} FROM sessions "
                "WHERE id = :id AND workspace_id = :ws",
                {"id": session_id, "ws": workspace_id},
            )
        if row is None:
            raise NotFound(f"session {session_id} not found")
        return session_from_row(row)

    async def list_sessions(self, *, workspace_id: str, query: SessionQuery) -> Page[Session]:
        where, params = self._session_filters(workspace_id, query)
        sql = (
            f"SELECT {jobs.SESSION_COLUMNS} FROM sessions WHERE {' AND '.join(where)} "
            f"{conditions.order_sql(query)} LIMIT :limit OFFSET :offset"
        )
        async with await self._read() as conn:
            rows = await conn.fetch(
                sql, {**params, "limit": query.limit + 1, "offset": query.offset}
            )
        items = [session_from_row(r) for r in rows[: query.limit]]
        more = len(rows) > query.limit
        return Page(items=items, next_cursor=encode_cursor(items[-1]) if more else None)

    def _session_filters(
        self, workspace_id: str, query: SessionQuery
    ) -> tuple[list[str], dict[str, Any]]:
        where = ["workspace_id = :ws"]
        params: dict[str, Any] = {"ws": workspace_id}
        for name in ("kind", "parent_id", "name", "forked_from"):
            value = getattr(query, name)
            if value is not None:
                where.append(f"{name} = :{name}")
                params[name] = value
        if query.status is not None:
            where.append("status = :status")
            params["status"] = query.status.value
        if query.parent_id is None and not query.include_children:
            where.append("parent_id IS NULL")
        if query.created_after is not None:
            where.append("created_at > :after")
            params["after"] = query.created_after
        if query.created_before is not None:
            where.append("created_at < :before")
            params["before"] = query.created_before
        for i, (key, value) in enumerate(sorted(query.metadata.items())):
            where.append(self._metadata_clause(i))
            params[f"mk{i}"] = self._metadata_path(key)
            params[f"mv{i}"] = value
        conditions.extra_filters(self.dialect, query, where, params)
        if query.cursor is not None:
            created, sid = decode_cursor(query.cursor)
            where.append("(created_at < :c_at OR (created_at = :c_at AND id < :c_id))")
            params.update(c_at=created, c_id=sid)
        return where, params

    async def count_sessions(self, *, workspace_id: str, query: SessionQuery) -> int:
        where, params = self._session_filters(workspace_id, query)
        sql = f"SELECT count(*) FROM sessions WHERE {' AND '.join(where)}"
        async with await self._read() as conn:
            return int(await conn.fetchval(sql, params))

    async def distinct_attribute_values(
        self, *, workspace_id: str, kind: str, key: str, limit: int = 1000
    ) -> list[str]:
        sql = conditions.distinct_values_sql(self.dialect, key)
        async with await self._read() as conn:
            rows = await conn.fetch(sql, {"ws": workspace_id, "kind": kind, "limit": limit})
        return [str(r["v"]) for r in rows]

    async def payload_rollups(
        self, *, session_ids: Sequence[str], event_types: Sequence[str], keys: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        if not session_ids:
            return {}
        sql, params = conditions.payload_rollup_sql(
            self.dialect, list(keys), list(session_ids), list(event_types)
        )
        async with await self._read() as conn:
            rows = await conn.fetch(sql, params)
        return {r["session_id"]: {k: v for k, v in r.items() if k != "session_id"} for r in rows}

    def _metadata_clause(self, i: int) -> str:
        if self.dialect == "postgresql":
            return f"metadata ->> :mk{i} = :mv{i}"
        return f"CAST(json_extract(metadata, :mk{i}) AS TEXT) = :mv{i}"

    def _metadata_path(self, key: str) -> str:
        if not METADATA_KEY.match(key):
            raise Invalid(f"metadata filter key {key!r} must match {METADATA_KEY.pattern}")
        return key if self.dialect == "postgresql" else f'$."{key}"'

    async def update_session(
        self,
        *,
        workspace_id: str,
        session_id: str,
        patch: SessionUpdate,
        fields: set[str],
        if_version: int | None = None,
    ) -> Session:
        job = jobs.UpdateSession(workspace_id, session_id, patch, fields, if_version)
        return session_from_row(await self.writer.submit(job))

    async def delete_session(self, *, workspace_id: str, session_id: str) -> list[str]:
        return await self.writer.submit(jobs.DeleteSession(workspace_id, session_id))

    async def set_attributes(
        self, *, workspace_id: str, session_id: str, attributes: dict[str, Any]
    ) -> Session:
        job = jobs.ChangeAttributes(workspace_id, session_id, lambda _old: attributes)
        return session_from_row(await self.writer.submit(job))

    async def change_attributes(
        self,
        *,
        workspace_id: str,
        session_id: str,
        change: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> Session:
        job = jobs.ChangeAttributes(workspace_id, session_id, change)
        return session_from_row(await self.writer.submit(job))

    # events
    async def append_events(
        self,
        *,
        workspace_id: str,
        session_id: str,
        events: Sequence[EventCreate],
        expected_seq: int | None = None,
    ) -> list[Event]:
        if "\x00" in session_id:
            # no session has such an id; and PostgreSQL would refuse the whole batch for it
            raise NotFound(f"session {session_id!r} not found")
        job = jobs.AppendEvents(workspace_id, session_id, events, expected_seq)
        return await self.writer.submit(job)

    async def _require_session(self, conn: Conn, workspace_id: str, session_id: str) -> None:
        found = await conn.fetchval(
            "SELECT 1 FROM sessions WHERE id = :id AND workspace_id = :ws",
            {"id": session_id, "ws": workspace_id},
        )
        if found is None:
            raise NotFound(f"session {session_id} not found")

    async def list_events(
        self, *, workspace_id: str, session_id: str, after: int = 0, limit: int = 100
    ) -> Page[Event]:
        async with await self._read() as conn:
            await self._require_session(conn, workspace_id, session_id)
            rows = await conn.fetch(
                f"SELECT {jobs.EVENT_COLUMNS} FROM events WHERE session_id = :sid AND seq > :after "
                "ORDER BY seq LIMIT :limit",
                {"sid": session_id, "after": after, "limit": limit + 1},
            )
        items = [event_from_row(r) for r in rows[:limit]]
        more = len(rows) > limit
        return Page(items=items, next_cursor=str(items[-1].seq) if more else None)

    async def user_messages(
        self, *, workspace_id: str, kind: str, limit: int, offset: int = 0
    ) -> list[Event]:
        columns = ", ".join(f"e.{c.strip()}" for c in jobs.EVENT_COLUMNS.split(","))
        async with await self._read() as conn:
            rows = await conn.fetch(
                f"SELECT {columns} FROM events e JOIN sessions s ON s.id = e.session_id "
                "WHERE e.type = 'message' AND e.role = 'user' AND s.workspace_id = :ws "
                "AND s.kind = :kind AND s.parent_id IS NULL "
                "ORDER BY e.created_at DESC, e.session_id, e.seq DESC LIMIT :limit OFFSET :offset",
                {"ws": workspace_id, "kind": kind, "limit": limit, "offset": offset},
            )
        return [event_from_row(r) for r in rows]

    async def tail_events(
        self, *, workspace_id: str, session_id: str, limit: int = 50
    ) -> list[Event]:
        async with await self._read() as conn:
            await self._require_session(conn, workspace_id, session_id)
            rows = await conn.fetch(
                f"SELECT {jobs.EVENT_COLUMNS} FROM events WHERE session_id = :sid "
                "ORDER BY seq DESC LIMIT :limit",
                {"sid": session_id, "limit": limit},
            )
        return [event_from_row(r) for r in reversed(rows)]

    async def get_event(self, *, workspace_id: str, session_id: str, event_id: str) -> Event:
        async with await self._read() as conn:
            await self._require_session(conn, workspace_id, session_id)
            row = await conn.fetchrow(
                f"SELECT {jobs.EVENT_COLUMNS} FROM events WHERE id = :id AND session_id = :sid",
                {"id": event_id, "sid": session_id},
            )
        if row is None:
            raise NotFound(f"event {event_id} not found")
        return event_from_row(row)

    async def fork_session(
        self,
        *,
        workspace_id: str,
        session_id: str,
        at_event_id: str | None,
        spec: SessionCreate,
        rewrite: PayloadRewrite | None = None,
    ) -> Session:
        job = jobs.ForkSession(workspace_id, session_id, at_event_id, spec, rewrite)
        return (await self.writer.submit(job)).session

    async def rewind_session(
        self, *, workspace_id: str, session_id: str, to_event_id: str
    ) -> Rewound:
        return await self.writer.submit(jobs.RewindSession(workspace_id, session_id, to_event_id))

    async def import_events(
        self,
        *,
        workspace_id: str,
        session_id: str,
        events: Sequence[Event],
        keep_ids: bool = False,
    ) -> None:
        await self.writer.submit(jobs.ImportEvents(workspace_id, session_id, events, keep_ids))

    async def finish_import(
        self, *, workspace_id: str, session_id: str, last_seq: int, created_at: datetime
    ) -> None:
        await self.writer.submit(jobs.FinishImport(workspace_id, session_id, last_seq, created_at))

    # runs
    async def start_run(
        self, *, workspace_id: str, session_id: str, driver: str, input: dict[str, Any], owner: str
    ) -> Run:
        job = jobs_admin.StartRun(workspace_id, session_id, driver, input, owner)
        return run_from_row(await self.writer.submit(job))

    async def finish_run(self, *, run_id: str, status: RunStatus, error: str | None = None) -> Run:
        return run_from_row(await self.writer.submit(jobs_admin.FinishRun(run_id, status, error)))

    async def active_run(self, *, workspace_id: str, session_id: str) -> Run | None:
        async with await self._read() as conn:
            await self._require_session(conn, workspace_id, session_id)
            row = await conn.fetchrow(
                f"SELECT {jobs_admin.RUN_COLUMNS} FROM runs "
                "WHERE session_id = :sid AND status = 'running'",
                {"sid": session_id},
            )
        return None if row is None else run_from_row(row)

    async def request_cancel(self, *, session_id: str) -> None:
        await self.writer.submit(jobs_admin.RequestCancel(session_id))

    async def interrupt_orphaned_runs(self, *, owner: str) -> int:
        async with await self._read() as conn:
            rows = await conn.fetch(
                "SELECT DISTINCT owner FROM runs WHERE status = 'running' AND owner <> :o",
                {"o": owner},
            )
        dead = [r["owner"] for r in rows if not await self._owner_alive(r["owner"])]
        return await self.writer.submit(jobs_admin.InterruptRuns(dead)) if dead else 0

    async def _owner_alive(self, owner: str) -> bool:
        """A process holds an advisory lock named by its owner id while it lives."""
        if not isinstance(self.db, PostgresDatabase):
            return False
        async with self.db.read() as conn:
            got = await conn.fetchval("SELECT pg_try_advisory_lock(hashtext(:o))", {"o": owner})
            if got:
                await conn.execute("SELECT pg_advisory_unlock(hashtext(:o))", {"o": owner})
        return not got

    async def hold_owner_lock(self, owner: str) -> None:
        self._owner = owner
        if self._pg_listener is not None:
            await self._pg_listener.execute("SELECT pg_advisory_lock(hashtext($1))", owner)

    # nodes and leases
    async def beat_node(self, *, node_id: str, url: str) -> Node:
        return await self.writer.submit(jobs_nodes.BeatNode(node_id, url))

    async def remove_node(self, *, node_id: str) -> int:
        return await self.writer.submit(jobs_nodes.RemoveNode(node_id))

    async def claim_lease(self, *, resource: str, node_id: str, stale_before: datetime) -> Lease:
        return await self.writer.submit(jobs_nodes.ClaimLease(resource, node_id, stale_before))

    async def release_lease(self, *, resource: str, node_id: str) -> bool:
        return await self.writer.submit(jobs_nodes.ReleaseLease(resource, node_id))

    async def lease_holders(self, *, resources: list[str]) -> dict[str, Node]:
        found: dict[str, Node] = {}
        step = jobs_nodes.HOLDERS_AT_ONCE
        async with await self._read() as conn:
            for start in range(0, len(resources), step):
                found |= await jobs_nodes.lease_holders(conn, resources[start : start + step])
        return found

    async def cluster_secret(self) -> str:
        return await self.writer.submit(jobs_nodes.ClusterSecret())

    # tenancy
    async def create_workspace(self, *, name: str) -> Workspace:
        return workspace_from_row(await self.writer.submit(jobs_admin.CreateWorkspace(name)))

    async def get_workspace(self, *, name: str) -> Workspace | None:
        async with await self._read() as conn:
            row = await conn.fetchrow("SELECT * FROM workspaces WHERE name = :n", {"n": name})
        return None if row is None else workspace_from_row(row)

    async def create_key(self, *, workspace_id: str, name: str, admin: bool) -> NewKey:
        return await self.writer.submit(jobs_admin.CreateKey(workspace_id, name, admin))

    async def list_keys(self, *, workspace_id: str | None) -> list[ApiKey]:
        scope = "" if workspace_id is None else "WHERE workspace_id = :ws "
        async with await self._read() as conn:
            rows = await conn.fetch(
                f"SELECT * FROM api_keys {scope}ORDER BY created_at", {"ws": workspace_id}
            )
        return [key_from_row(r) for r in rows]

    async def revoke_key(self, *, workspace_id: str | None, key_id: str) -> None:
        await self.writer.submit(jobs_admin.RevokeKey(workspace_id, key_id))

    async def resolve_key(self, *, secret: str) -> Principal | None:
        async with await self._read() as conn:
            row = await conn.fetchrow(
                "SELECT id, workspace_id, admin FROM api_keys "
                "WHERE key_hash = :h AND revoked_at IS NULL",
                {"h": hash_secret(secret)},
            )
        if row is None:
            return None
        return Principal(
            workspace_id=row["workspace_id"], key_id=row["id"], admin=bool(row["admin"])
        )

    async def count_keys(self) -> int:
        async with await self._read() as conn:
            return int(await conn.fetchval("SELECT count(*) FROM api_keys"))

    # machines
    async def create_machine(
        self, *, workspace_id: str, spec: MachineCreate, host: bool = False
    ) -> Machine:
        return await self.writer.submit(jobs_machines.CreateMachine(workspace_id, spec, host))

    async def get_machine(self, *, workspace_id: str, machine: str) -> Machine:
        async with await self._read() as conn:
            row = await jobs_machines.find(conn, workspace_id, machine)
        return jobs_machines.machine_from_row(row)

    async def list_machines(self, *, workspace_id: str | None) -> list[Machine]:
        where, params = jobs_machines.scope(workspace_id)
        async with await self._read() as conn:
            rows = await conn.fetch(
                f"SELECT {jobs_machines.COLUMNS} FROM machines WHERE 1 = 1{where} "
                "ORDER BY created_at, id",
                params,
            )
        return [jobs_machines.machine_from_row(r) for r in rows]

    async def delete_machine(self, *, workspace_id: str | None, machine: str) -> None:
        await self.writer.submit(jobs_machines.DeleteMachine(workspace_id, machine))

    async def claim_slot(self, *, workspace_id: str, session_id: str, claim: SlotClaim) -> Session:
        job = jobs_machines.ClaimSlot(workspace_id, session_id, claim)
        return session_from_row(await self.writer.submit(job))

    async def running_sessions(self, *, kind: str) -> list[Session]:
        async with await self._read() as conn:
            rows = await conn.fetch(
                f"SELECT {jobs.SESSION_COLUMNS} FROM sessions "
                "WHERE kind = :kind AND status = 'running' ORDER BY created_at",
                {"kind": kind},
            )
        return [session_from_row(r) for r in rows]

    # housekeeping
    async def delete_expired(self, *, now: datetime, limit: int = 100) -> list[tuple[str, str]]:
        return await self.writer.submit(jobs_admin.DeleteExpired(now, limit))

    async def ready(self) -> tuple[bool, str]:
        try:
            async with await self._read() as conn:
                current = await conn.fetchval("SELECT version_num FROM alembic_version")
        except Exception as exc:
            return False, f"database unreachable: {type(exc).__name__}"
        head = migrations.head_revision()
        if current != head:
            return False, f"schema at {current}, expected {head}"
        return True, "ok"

    async def stats(self) -> dict[str, int]:
        async with await self._read() as conn:
            row = await conn.fetchrow(
                "SELECT (SELECT count(*) FROM sessions) AS sessions, "
                "(SELECT count(*) FROM runs WHERE status = 'running') AS active_runs"
            )
        assert row is not None
        return {k: int(v) for k, v in row.items()}


def open_store(
    url: str, *, sqlite_synchronous: str = "FULL", pg_pool_size: int = 10, pg_writers: int = 2
) -> SessionStore:
    """Pick the backend by URL scheme; an unknown scheme is an error."""
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        return SqlSessionStore(SqliteDatabase(path, synchronous=sqlite_synchronous), url=url)
    if url.startswith("postgresql://"):
        database = PostgresDatabase(url, pool_size=pg_pool_size, writers=pg_writers)
        return SqlSessionStore(database, url=url)
    raise Invalid(f"unsupported database URL scheme in {url.split('://')[0]!r}")
