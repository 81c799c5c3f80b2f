"""Write jobs: each checks the current state, then writes (inside the writer)."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import orjson

from sessionhub.domain.errors import AlreadyExists, Conflict, NotFound, SeqMismatch
from sessionhub.domain.models import Event, EventCreate, SessionCreate, SessionUpdate
from sessionhub.store.base import Created, PayloadRewrite, Rewound
from sessionhub.store.sql.db import Conn, Row, format_ts, json_text
from sessionhub.store.sql.pg_append import AppendPlan, append_in_one_statement, fits_one_statement
from sessionhub.store.sql.rows import (
    Counts,
    event_from_row,
    event_row,
    imported_event_row,
    js,
    new_id,
    now,
    session_from_row,
)
from sessionhub.store.sql.writer import Notice, OneStatement, Outcome, WriteJob

SESSION_COLUMNS = (
    "id, workspace_id, kind, name, title, parent_id, forked_from, forked_at_event, status, "
    "attributes, metadata, counts, event_count, message_count, tool_call_count, input_tokens, "
    "output_tokens, cost, duration_ms, last_seq, version, idempotency_key, request_hash, "
    "created_at, updated_at, expires_at"
)
EVENT_COLUMNS = (
    "id, session_id, seq, type, role, payload, input_tokens, output_tokens, cost, "
    "duration_ms, created_at"
)
INSERT_EVENT = (
    f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (:id, :session_id, :seq, :type, :role, "
    ":payload, :input_tokens, :output_tokens, :cost, :duration_ms, :created_at)"
)
INSERT_EVENT_VALUES = f"INSERT INTO events ({EVENT_COLUMNS}) VALUES ({', '.join('?' * 11)})"
UPDATE_TOTALS_VALUES = (
    f"UPDATE sessions SET {', '.join(f'{f} = ?' for f in Counts.FIELDS)}, counts = ?, "
    "last_seq = ?, version = version + 1, updated_at = ? WHERE id = ?"
)
"""An append batch on SQLite, positionally, with values already in SQLite's types."""


async def sqlite_append(
    conn: Conn, rows: list[dict[str, Any]], sessions: dict[str, SessionState], at: datetime
) -> None:
    stamp = format_ts(at)
    await conn.executemany_values(INSERT_EVENT_VALUES, [
        (r["id"], r["session_id"], r["seq"], r["type"], r["role"], json_text(r["payload"]),
         r["input_tokens"], r["output_tokens"], r["cost"], r["duration_ms"], stamp)
        for r in rows
    ])  # fmt: skip
    written = {r["session_id"] for r in rows}
    await conn.executemany_values(UPDATE_TOTALS_VALUES, [
        (*state.counts.in_order(), json_text(state.counts.by_kind()), state.last_seq,
         stamp, sid)
        for sid, state in sessions.items()
        if sid in written
    ])  # fmt: skip


PG_APPEND = (
    f"WITH ins AS (INSERT INTO events ({EVENT_COLUMNS}) "
    "SELECT e.id, e.sid, e.seq, e.type, e.role, e.payload::jsonb, e.inp, e.outp, e.cost, e.dur, :at "
    "FROM unnest(CAST(:e_id AS text[]), CAST(:e_sid AS text[]), CAST(:e_seq AS bigint[]), "
    "CAST(:e_type AS text[]), CAST(:e_role AS text[]), CAST(:e_payload AS text[]), "
    "CAST(:e_in AS bigint[]), CAST(:e_out AS bigint[]), CAST(:e_cost AS float8[]), "
    "CAST(:e_dur AS bigint[])) AS e(id, sid, seq, type, role, payload, inp, outp, cost, dur)) "
    "UPDATE sessions s SET event_count = u.ec, message_count = u.mc, tool_call_count = u.tc, "
    "input_tokens = u.inp, output_tokens = u.outp, cost = u.cost, duration_ms = u.dur, "
    "counts = u.counts::jsonb, last_seq = u.ls, version = s.version + 1, updated_at = :at "
    "FROM unnest(CAST(:s_id AS text[]), CAST(:s_ec AS bigint[]), CAST(:s_mc AS bigint[]), "
    "CAST(:s_tc AS bigint[]), CAST(:s_in AS bigint[]), CAST(:s_out AS bigint[]), "
    "CAST(:s_cost AS float8[]), CAST(:s_dur AS bigint[]), CAST(:s_counts AS text[]), "
    "CAST(:s_ls AS bigint[])) AS u(id, ec, mc, tc, inp, outp, cost, dur, counts, ls) "
    "WHERE s.id = u.id"
)
"""An append batch on PostgreSQL in one round trip: its events and its sessions' totals."""


def pg_append_params(
    rows: list[dict[str, Any]], sessions: dict[str, SessionState], at: datetime
) -> dict[str, Any]:
    written = {r["session_id"] for r in rows}
    touched = [sid for sid in sessions if sid in written]
    totals = [sessions[sid].counts.params() for sid in touched]
    return {
        "at": at,
        "e_id": [r["id"] for r in rows], "e_sid": [r["session_id"] for r in rows],
        "e_seq": [r["seq"] for r in rows], "e_type": [r["type"] for r in rows],
        "e_role": [r["role"] for r in rows],
        "e_payload": [orjson.dumps(r["payload"]).decode() for r in rows],
        "e_in": [r["input_tokens"] for r in rows], "e_out": [r["output_tokens"] for r in rows],
        "e_cost": [float(r["cost"]) for r in rows], "e_dur": [r["duration_ms"] for r in rows],
        "s_id": touched, "s_ec": [t["event_count"] for t in totals],
        "s_mc": [t["message_count"] for t in totals], "s_tc": [t["tool_call_count"] for t in totals],
        "s_in": [t["input_tokens"] for t in totals], "s_out": [t["output_tokens"] for t in totals],
        "s_cost": [float(t["cost"]) for t in totals], "s_dur": [t["duration_ms"] for t in totals],
        "s_counts": [orjson.dumps(t["counts"]).decode() for t in totals],
        "s_ls": [sessions[sid].last_seq for sid in touched],
    }  # fmt: skip


SQLITE_UUID4 = (
    "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || "
    "substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || "
    "substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))"
)
UNIQUE_ERRORS: tuple[type[BaseException], ...] = (sqlite3.IntegrityError,)
try:
    import asyncpg

    UNIQUE_ERRORS += (asyncpg.UniqueViolationError,)
except ImportError:  # pragma: no cover - asyncpg is a dependency
    pass


async def lock_session(conn: Conn, workspace_id: str, session_id: str) -> Row:
    """Read a session row for writing; on PostgreSQL the row lock orders writers."""
    lock = " FOR UPDATE" if conn.dialect == "postgresql" else ""
    row = await conn.fetchrow(
        f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = :id AND workspace_id = :ws{lock}",
        {"id": session_id, "ws": workspace_id},
    )
    if row is None:
        raise NotFound(f"session {session_id} not found")
    return row


async def reread(conn: Conn, session_id: str) -> Row:
    row = await conn.fetchrow(
        f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = :id", {"id": session_id}
    )
    assert row is not None
    return row


TOTAL_SUMS = (
    "count(*) AS event_count, "
    "coalesce(sum(CASE WHEN type = 'message' THEN 1 ELSE 0 END), 0) AS message_count, "
    "coalesce(sum(CASE WHEN type = 'tool_call' THEN 1 ELSE 0 END), 0) AS tool_call_count, "
    "coalesce(sum(input_tokens), 0) AS input_tokens, "
    "coalesce(sum(output_tokens), 0) AS output_tokens, "
    "coalesce(sum(cost), 0) AS cost, coalesce(sum(duration_ms), 0) AS duration_ms"
)


async def sums_after(conn: Conn, session_id: str, after: int) -> dict[str, Any]:
    """Totals of the session's events with seq > after, counts by type and role included."""
    params = {"id": session_id, "after": after}
    where = "FROM events WHERE session_id = :id AND seq > :after"
    sums = await conn.fetchrow(f"SELECT {TOTAL_SUMS} {where}", params)
    assert sums is not None
    by_type = await conn.fetch(f"SELECT type AS k, count(*) AS n {where} GROUP BY type", params)
    by_role = await conn.fetch(
        f"SELECT role AS k, count(*) AS n {where} AND role IS NOT NULL GROUP BY role", params
    )
    return {
        **{k: v for k, v in dict(sums).items()},
        "cost": float(sums["cost"]),
        "counts": {
            "by_type": {r["k"]: int(r["n"]) for r in by_type},
            "by_role": {r["k"]: int(r["n"]) for r in by_role},
        },
    }


async def write_totals(conn: Conn, session_id: str, totals: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE sessions SET event_count = :event_count, message_count = :message_count, "
        "tool_call_count = :tool_call_count, input_tokens = :input_tokens, "
        "output_tokens = :output_tokens, cost = :cost, duration_ms = :duration_ms, "
        "counts = :counts WHERE id = :id",
        {**totals, "id": session_id},
    )


async def recount(conn: Conn, session_id: str) -> None:
    """Recompute a session's totals from all its events (fork, import)."""
    await write_totals(conn, session_id, await sums_after(conn, session_id, 0))


def subtract(row: Row, gone: dict[str, Any]) -> dict[str, Any]:
    """A session's totals less those of deleted events (rewind costs what it deletes)."""
    totals = {f: row[f] - gone[f] for f in Counts.FIELDS}
    totals["cost"] = max(0.0, float(totals["cost"]))
    counts = js(row["counts"])
    for key in ("by_type", "by_role"):
        left = {k: n - gone["counts"][key].get(k, 0) for k, n in counts.get(key, {}).items()}
        counts[key] = {k: n for k, n in left.items() if n > 0}
    totals["counts"] = counts
    return totals


def request_hash(spec: SessionCreate) -> str:
    canonical = orjson.dumps(spec.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


@dataclass
class CreateSession(WriteJob[Created]):
    workspace_id: str
    spec: SessionCreate
    idempotency_key: str | None = None
    if_exists: str = "error"
    session_id: str | None = None
    forked: tuple[str, str | None] | None = None
    last_seq: int = 0

    async def run(self, conn: Conn, notices: list[Notice]) -> Created:
        replay = await self._existing(conn)
        if replay is not None:
            return replay
        if self.spec.parent_id is not None:
            await lock_session(conn, self.workspace_id, self.spec.parent_id)
        sid = self.session_id or new_id()
        try:
            await self._insert(conn, sid)
        except UNIQUE_ERRORS as exc:
            # Another process inserted the same name since _existing looked.
            replay = await self._existing(conn) if self._may_return else None
            if replay is not None:
                return replay
            raise AlreadyExists(f"session {sid} already exists") from exc
        notices.append(Notice("created", sid))
        return Created(session_from_row(await reread(conn, sid)))

    @property
    def _may_return(self) -> bool:
        return self.if_exists == "return" and self.spec.name is not None

    async def _insert(self, conn: Conn, sid: str) -> None:
        if not self._may_return:
            await conn.execute(INSERT_SESSION, self._params(sid))
            return
        async with conn.savepoint():  # the batch goes on to read the winner's row
            await conn.execute(INSERT_SESSION, self._params(sid))

    async def _existing(self, conn: Conn) -> Created | None:
        if self.idempotency_key is not None:
            row = await conn.fetchrow(
                f"SELECT {SESSION_COLUMNS} FROM sessions "
                "WHERE workspace_id = :ws AND idempotency_key = :key",
                {"ws": self.workspace_id, "key": self.idempotency_key},
            )
            if row is not None:
                if row["request_hash"] != request_hash(self.spec):
                    raise Conflict("this Idempotency-Key was used with a different request")
                return Created(session_from_row(row), replayed=True)
        if self.spec.name is None:
            return None
        row = await conn.fetchrow(
            f"SELECT {SESSION_COLUMNS} FROM sessions "
            "WHERE workspace_id = :ws AND kind = :kind AND name = :name",
            {"ws": self.workspace_id, "kind": self.spec.kind, "name": self.spec.name},
        )
        if row is None:
            return None
        if self.if_exists == "return":
            return Created(session_from_row(row), replayed=True)
        raise AlreadyExists(f"a {self.spec.kind} session named {self.spec.name!r} already exists")

    def _params(self, sid: str) -> dict[str, Any]:
        spec, at = self.spec, now()
        expires = at + timedelta(seconds=spec.ttl_seconds) if spec.ttl_seconds else None
        forked_from, forked_at = self.forked or (None, None)
        return {
            "id": sid, "workspace_id": self.workspace_id, "kind": spec.kind,
            "name": spec.name, "title": spec.title, "parent_id": spec.parent_id,
            "forked_from": forked_from, "forked_at_event": forked_at, "status": "idle",
            "attributes": spec.attributes, "metadata": spec.metadata,
            "counts": {"by_type": {}, "by_role": {}}, "last_seq": self.last_seq,
            "idempotency_key": self.idempotency_key,
            "request_hash": request_hash(spec) if self.idempotency_key else None,
            "created_at": at, "expires_at": expires,
        }  # fmt: skip


INSERT_SESSION = (
    "INSERT INTO sessions (id, workspace_id, kind, name, title, parent_id, forked_from, "
    "forked_at_event, status, attributes, metadata, counts, event_count, message_count, "
    "tool_call_count, input_tokens, output_tokens, cost, duration_ms, last_seq, version, "
    "idempotency_key, request_hash, created_at, updated_at, expires_at) VALUES (:id, "
    ":workspace_id, :kind, :name, :title, :parent_id, :forked_from, :forked_at_event, :status, "
    ":attributes, :metadata, :counts, 0, 0, 0, 0, 0, 0, 0, :last_seq, 1, :idempotency_key, "
    ":request_hash, :created_at, :created_at, :expires_at)"
)


@dataclass
class UpdateSession(WriteJob[Row]):
    workspace_id: str
    session_id: str
    patch: SessionUpdate
    fields: set[str]
    if_version: int | None = None

    async def run(self, conn: Conn, notices: list[Notice]) -> Row:
        from sessionhub.domain.errors import PreconditionFailed

        row = await lock_session(conn, self.workspace_id, self.session_id)
        if self.if_version is not None and self.if_version != row["version"]:
            raise PreconditionFailed(
                f"session is at version {row['version']}, not {self.if_version}",
                current_version=row["version"],
            )
        values = self._values(row)
        sets = ", ".join(f"{k} = :{k}" for k in values)
        try:
            await conn.execute(
                f"UPDATE sessions SET {sets}, version = version + 1, updated_at = :updated_at "
                "WHERE id = :id",
                {**values, "updated_at": now(), "id": self.session_id},
            )
        except UNIQUE_ERRORS as exc:
            raise AlreadyExists(f"a {row['kind']} session with that name already exists") from exc
        notices.append(Notice("updated", self.session_id))
        return await reread(conn, self.session_id)

    def _values(self, row: Row) -> dict[str, Any]:
        patch, values = self.patch, {}
        for name in self.fields & {"title", "name", "metadata", "status"}:
            value = getattr(patch, name)
            values[name] = value if name != "metadata" or value is not None else {}
        if "ttl_seconds" in self.fields:
            ttl = patch.ttl_seconds
            values["expires_at"] = now() + timedelta(seconds=ttl) if ttl else None
        if "status" in values and values["status"] is None:
            values["status"] = row["status"]
        return values


@dataclass
class ChangeAttributes(WriteJob[Row]):
    """Read, change and write a session's attributes with its row locked."""

    workspace_id: str
    session_id: str
    change: Callable[[dict[str, Any]], dict[str, Any]]

    async def run(self, conn: Conn, notices: list[Notice]) -> Row:
        row = await lock_session(conn, self.workspace_id, self.session_id)
        merged = {**js(row["attributes"]), **self.change(js(row["attributes"]))}
        await conn.execute(
            "UPDATE sessions SET attributes = :a, version = version + 1, updated_at = :t "
            "WHERE id = :id",
            {"a": merged, "t": now(), "id": self.session_id},
        )
        notices.append(Notice("updated", self.session_id))
        return await reread(conn, self.session_id)


DESCENDANTS = (
    "WITH RECURSIVE tree(id) AS (SELECT id FROM sessions WHERE id = :id "
    "UNION ALL SELECT s.id FROM sessions s JOIN tree t ON s.parent_id = t.id) "
    "SELECT id FROM tree"
)


@dataclass
class DeleteSession(WriteJob[list[str]]):
    workspace_id: str
    session_id: str

    async def run(self, conn: Conn, notices: list[Notice]) -> list[str]:
        await lock_session(conn, self.workspace_id, self.session_id)
        ids = [r["id"] for r in await conn.fetch(DESCENDANTS, {"id": self.session_id})]
        await conn.execute("DELETE FROM sessions WHERE id = :id", {"id": self.session_id})
        notices.extend(Notice("deleted", sid) for sid in ids)
        return ids


@dataclass
class AppendEvents(WriteJob[list[Event]]):
    """Appends are coalesced: a batch reads and updates each session row once."""

    workspace_id: str
    session_id: str
    events: Sequence[EventCreate]
    expected_seq: int | None = None
    coalesce = True

    async def run(self, conn: Conn, notices: list[Notice]) -> list[Event]:
        outcome = (await self.run_group(conn, [self]))[0]
        if outcome.error is not None:
            raise outcome.error
        notices.extend(outcome.notices)
        result: list[Event] = outcome.result
        return result

    @classmethod
    def one_statement(cls, jobs: Sequence[WriteJob[Any]]) -> OneStatement | None:
        appends = [job for job in jobs if isinstance(job, AppendEvents)]
        shapes = [(j.workspace_id, j.session_id, j.expected_seq, len(j.events)) for j in appends]
        if not fits_one_statement(shapes):
            return None
        plan = AppendPlan([(j.workspace_id, j.session_id, j.events) for j in appends], now())
        return partial(append_in_one_statement, plan=plan)

    @classmethod
    async def run_group(cls, conn: Conn, jobs: Sequence[WriteJob[Any]]) -> list[Outcome]:
        """Lock every session of the batch in one query, plan in memory, write twice."""
        appends = [job for job in jobs if isinstance(job, AppendEvents)]
        at = now()
        sessions = await lock_sessions(conn, {job.session_id for job in appends})
        rows: list[dict[str, Any]] = []
        outcomes = [job._plan(sessions, rows, at) for job in appends]
        if rows and conn.dialect == "postgresql":
            await conn.execute(PG_APPEND, pg_append_params(rows, sessions, at))
        elif rows:
            await sqlite_append(conn, rows, sessions, at)
        return outcomes

    def _plan(
        self, sessions: dict[str, SessionState], rows: list[dict[str, Any]], at: datetime
    ) -> Outcome:
        state = sessions.get(self.session_id)
        if state is None or state.workspace_id != self.workspace_id:
            return Outcome(error=NotFound(f"session {self.session_id} not found"))
        if self.expected_seq is not None and self.expected_seq != state.last_seq:
            return Outcome(
                error=SeqMismatch(
                    f"expected_seq is {self.expected_seq} but the session is at {state.last_seq}",
                    current_seq=state.last_seq,
                )
            )
        first = state.last_seq + 1
        new_rows = [event_row(self.session_id, first + i, e, at) for i, e in enumerate(self.events)]
        for event in self.events:
            state.counts.add(event)
        rows.extend(new_rows)
        state.last_seq += len(new_rows)
        return Outcome(
            result=[event_from_row(r) for r in new_rows],
            notices=[Notice("events", self.session_id, state.last_seq)],
        )


STATE_COLUMNS = f"id, workspace_id, last_seq, counts, {', '.join(Counts.FIELDS)}"


@dataclass
class SessionState:
    """A session's row as an append batch changes it in memory."""

    workspace_id: str
    counts: Counts
    last_seq: int


async def lock_sessions(conn: Conn, ids: set[str]) -> dict[str, SessionState]:
    """Read (on PostgreSQL: lock, in id order, so writers never deadlock) many sessions."""
    names = {f"s{i}": sid for i, sid in enumerate(sorted(ids))}
    placeholders = ", ".join(f":{name}" for name in names)
    lock = " FOR UPDATE" if conn.dialect == "postgresql" else ""
    found = await conn.fetch(
        f"SELECT {STATE_COLUMNS} FROM sessions WHERE id IN ({placeholders}) ORDER BY id{lock}",
        names,
    )
    return {r["id"]: SessionState(r["workspace_id"], Counts(r), r["last_seq"]) for r in found}


@dataclass
class ForkSession(WriteJob[Created]):
    workspace_id: str
    session_id: str
    at_event_id: str | None
    spec: SessionCreate
    rewrite: PayloadRewrite | None = None
    _new_id: str = field(default_factory=new_id)

    async def run(self, conn: Conn, notices: list[Notice]) -> Created:
        source = await lock_session(conn, self.workspace_id, self.session_id)
        cut = source["last_seq"]
        if self.at_event_id is not None:
            cut = await event_seq(conn, self.session_id, self.at_event_id)
        create = CreateSession(
            self.workspace_id, self.spec, session_id=self._new_id,
            forked=(self.session_id, self.at_event_id), last_seq=cut,
        )  # fmt: skip
        await create.run(conn, notices)
        uuid_sql = "gen_random_uuid()::text" if conn.dialect == "postgresql" else SQLITE_UUID4
        await conn.execute(
            f"INSERT INTO events ({EVENT_COLUMNS}) SELECT {uuid_sql}, :new, seq, type, role, "
            "payload, input_tokens, output_tokens, cost, duration_ms, created_at "
            "FROM events WHERE session_id = :old AND seq <= :cut ORDER BY seq",
            {"new": self._new_id, "old": self.session_id, "cut": cut},
        )
        if self.rewrite is not None:
            await rewrite_payloads(conn, self._new_id, self.rewrite)
        await recount(conn, self._new_id)
        return Created(session_from_row(await reread(conn, self._new_id)))


async def rewrite_payloads(conn: Conn, session_id: str, rewrite: PayloadRewrite) -> None:
    """Store the payloads ``rewrite`` gives for the session's events, by seq."""
    rows = await conn.fetch(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE session_id = :sid ORDER BY seq",
        {"sid": session_id},
    )
    changed = rewrite([event_from_row(r) for r in rows])
    if changed:
        await conn.executemany(
            "UPDATE events SET payload = :payload WHERE session_id = :sid AND seq = :seq",
            [{"payload": p, "sid": session_id, "seq": seq} for seq, p in changed.items()],
        )


async def event_seq(conn: Conn, session_id: str, event_id: str) -> int:
    seq = await conn.fetchval(
        "SELECT seq FROM events WHERE id = :id AND session_id = :sid",
        {"id": event_id, "sid": session_id},
    )
    if seq is None:
        raise NotFound(f"event {event_id} not found in session {session_id}")
    return int(seq)


@dataclass
class RewindSession(WriteJob[Rewound]):
    workspace_id: str
    session_id: str
    to_event_id: str

    async def run(self, conn: Conn, notices: list[Notice]) -> Rewound:
        row = await lock_session(conn, self.workspace_id, self.session_id)
        cut = await event_seq(conn, self.session_id, self.to_event_id)
        gone = await sums_after(conn, self.session_id, cut)
        first = await conn.fetchval(
            "SELECT created_at FROM events WHERE session_id = :sid AND seq > :cut "
            "ORDER BY seq LIMIT 1",
            {"sid": self.session_id, "cut": cut},
        )
        deleted = await conn.execute(
            "DELETE FROM events WHERE session_id = :sid AND seq > :cut",
            {"sid": self.session_id, "cut": cut},
        )
        await write_totals(conn, self.session_id, subtract(row, gone))
        await conn.execute(
            "UPDATE sessions SET version = version + 1, updated_at = :t WHERE id = :id",
            {"t": now(), "id": self.session_id},
        )
        notices.append(Notice("rewound", self.session_id, cut))
        from sessionhub.store.sql.rows import opt_ts

        session = session_from_row(await reread(conn, self.session_id))
        return Rewound(session, deleted, opt_ts(first))


@dataclass
class ImportEvents(WriteJob[None]):
    workspace_id: str
    session_id: str
    events: Sequence[Event]
    keep_ids: bool = False

    async def run(self, conn: Conn, notices: list[Notice]) -> None:
        row = await lock_session(conn, self.workspace_id, self.session_id)
        rows = [imported_event_row(self.session_id, e, self.keep_ids) for e in self.events]
        if not rows:
            return
        if min(r["seq"] for r in rows) <= row["last_seq"]:
            raise Conflict("imported events must come after the session's last seq")
        try:
            await conn.executemany(INSERT_EVENT, rows)
        except UNIQUE_ERRORS as exc:
            raise AlreadyExists("an imported event id or seq already exists") from exc
        await conn.execute(
            "UPDATE sessions SET last_seq = :seq WHERE id = :id",
            {"seq": max(r["seq"] for r in rows), "id": self.session_id},
        )


@dataclass
class FinishImport(WriteJob[None]):
    workspace_id: str
    session_id: str
    last_seq: int
    created_at: datetime

    async def run(self, conn: Conn, notices: list[Notice]) -> None:
        row = await lock_session(conn, self.workspace_id, self.session_id)
        await recount(conn, self.session_id)
        await conn.execute(
            "UPDATE sessions SET last_seq = :seq, created_at = :at WHERE id = :id",
            {
                "seq": max(row["last_seq"], self.last_seq),
                "at": self.created_at,
                "id": self.session_id,
            },
        )
