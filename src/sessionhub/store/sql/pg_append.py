"""PostgreSQL appends in one autocommit statement.

The locked path (BEGIN, SELECT … FOR UPDATE, write, NOTIFY, COMMIT) costs five round
trips per batch. When a batch holds only plain appends (no ``expected_seq``, one
workspace per session), nothing needs reading first: the statement below locks the
sessions in id order, adds the batch's totals as deltas, takes the new ``last_seq``
from the UPDATE to number the events, inserts them and notifies other processes, all
as one implicit transaction, durable when it returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sessionhub.domain.errors import NotFound
from sessionhub.domain.models import Event, EventCreate
from sessionhub.store.sql.db import Conn
from sessionhub.store.sql.rows import Counts, event_from_row, event_row
from sessionhub.store.sql.writer import PG_CHANNEL, Notice, Outcome


def _add_counts(part: str) -> str:
    """SQL: the session's ``counts.<part>`` object plus the batch's, key by key."""
    old = f"coalesce(s.counts->'{part}', '{{}}'::jsonb)"
    new = f"d.{part}::jsonb"
    return (
        f"(SELECT coalesce(jsonb_object_agg(k, coalesce(({old}->>k)::bigint, 0) "
        f"+ coalesce(({new}->>k)::bigint, 0)), '{{}}'::jsonb) "
        f"FROM jsonb_object_keys({old} || {new}) AS k)"
    )


PG_APPEND_DELTAS = (
    "WITH d AS MATERIALIZED (SELECT * FROM jsonb_to_recordset(CAST(:sessions AS jsonb)) "
    "AS d(id text, ws text, n bigint, mc bigint, tc bigint, inp bigint, outp bigint, "
    "cost float8, dur bigint, by_type jsonb, by_role jsonb)), "
    "locked AS MATERIALIZED (SELECT s.id FROM sessions s JOIN d "
    "ON d.id = s.id AND d.ws = s.workspace_id ORDER BY s.id FOR UPDATE OF s), "
    "upd AS (UPDATE sessions s SET last_seq = s.last_seq + d.n, "
    "event_count = s.event_count + d.n, message_count = s.message_count + d.mc, "
    "tool_call_count = s.tool_call_count + d.tc, input_tokens = s.input_tokens + d.inp, "
    "output_tokens = s.output_tokens + d.outp, cost = s.cost + d.cost, "
    "duration_ms = s.duration_ms + d.dur, "
    "counts = coalesce(s.counts, '{}'::jsonb) || jsonb_build_object("
    f"'by_type', {_add_counts('by_type')}, 'by_role', {_add_counts('by_role')}), "
    "version = s.version + 1, updated_at = :at "
    "FROM d JOIN locked ON locked.id = d.id WHERE s.id = d.id RETURNING s.id, s.last_seq), "
    "ins AS (INSERT INTO events (id, session_id, seq, type, role, payload, input_tokens, "
    "output_tokens, cost, duration_ms, created_at) "
    "SELECT e.id, e.sid, upd.last_seq - d.n + e.off, e.type, e.role, e.payload, "
    "e.inp, e.outp, e.cost, e.dur, :at "
    "FROM jsonb_to_recordset(CAST(:events AS jsonb)) AS e(id text, sid text, off bigint, "
    "type text, role text, payload jsonb, inp bigint, outp bigint, cost float8, dur bigint) "
    "JOIN upd ON upd.id = e.sid JOIN d ON d.id = e.sid) "
    "SELECT upd.id, upd.last_seq, "
    "pg_notify(:channel, 'events|' || upd.id || '|' || upd.last_seq) FROM upd"
)
"""The batch travels as two jsonb documents, not one array per column: asyncpg encodes
an array element by element (an ABC ``isinstance`` check each), orjson a document at once."""


class AppendPlan:
    """The rows and per-session deltas of a batch of plain appends, before numbering."""

    def __init__(self, appends: Sequence[tuple[str, str, Sequence[EventCreate]]], at: datetime):
        self.at = at
        self.workspaces: dict[str, str] = {}
        self.deltas: dict[str, Counts] = {}
        self.rows: list[list[dict[str, Any]]] = []
        for workspace_id, session_id, events in appends:
            self.workspaces.setdefault(session_id, workspace_id)
            delta = self.deltas.setdefault(session_id, Counts.zero())
            job_rows = []
            for event in events:
                delta.add(event)
                job_rows.append(event_row(session_id, delta.values["event_count"], event, at))
            self.rows.append(job_rows)

    def params(self) -> dict[str, Any]:
        sessions = [
            {"id": sid, "ws": self.workspaces[sid], "n": v["event_count"],
             "mc": v["message_count"], "tc": v["tool_call_count"], "inp": v["input_tokens"],
             "outp": v["output_tokens"], "cost": float(v["cost"]), "dur": v["duration_ms"],
             "by_type": delta.by_type, "by_role": delta.by_role}
            for sid, delta in self.deltas.items()
            for v in (delta.values,)
        ]  # fmt: skip
        events = [
            {"id": r["id"], "sid": r["session_id"], "off": r["seq"], "type": r["type"],
             "role": r["role"], "payload": r["payload"], "inp": r["input_tokens"],
             "outp": r["output_tokens"], "cost": float(r["cost"]), "dur": r["duration_ms"]}
            for job_rows in self.rows
            for r in job_rows
        ]  # fmt: skip
        return {
            "at": self.at, "channel": PG_CHANNEL,
            "sessions": sessions, "events": events,
        }  # fmt: skip

    def outcomes(self, last_seqs: dict[str, int]) -> list[Outcome]:
        """Number each job's events from the session's new ``last_seq``."""
        results = []
        for job_rows in self.rows:
            sid = job_rows[0]["session_id"]
            if sid not in last_seqs:
                results.append(Outcome(error=NotFound(f"session {sid} not found")))
                continue
            base = last_seqs[sid] - self.deltas[sid].values["event_count"]
            events: list[Event] = []
            for row in job_rows:
                row["seq"] += base
                events.append(event_from_row(row))
            notice = Notice("events", sid, events[-1].seq, notified=True)
            results.append(Outcome(result=events, notices=[notice]))
        return results


def fits_one_statement(appends: Sequence[tuple[str, str, int | None, int]]) -> bool:
    """Plain, non-empty appends, each session from one workspace.

    Each append is (workspace, session, expected_seq, number of events).
    """
    seen: dict[str, str] = {}
    for workspace_id, session_id, expected_seq, count in appends:
        if expected_seq is not None or count == 0:
            return False
        if seen.setdefault(session_id, workspace_id) != workspace_id:
            return False
    return True


async def append_in_one_statement(conn: Conn, plan: AppendPlan) -> list[Outcome]:
    found = await conn.fetch(PG_APPEND_DELTAS, plan.params())
    return plan.outcomes({r["id"]: r["last_seq"] for r in found})
