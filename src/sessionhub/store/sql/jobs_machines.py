"""Machines (compute profiles): rows, reads and write jobs; and the slot claim their
concurrency limit uses (generic: the kind names the attributes, see ``SlotClaim``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sessionhub.domain.errors import AlreadyExists, Conflict, NotFound
from sessionhub.domain.machines import Machine, MachineCreate, SlotClaim
from sessionhub.store.sql.db import Conn, Row
from sessionhub.store.sql.jobs import UNIQUE_ERRORS, lock_session, reread
from sessionhub.store.sql.rows import js, new_id, now, ts
from sessionhub.store.sql.writer import Notice, WriteJob

COLUMNS = (
    "id, workspace_id, name, command, env, gpu, price_per_hour, max_sessions, probe, "
    "startup_timeout, created_at, host"
)
BY_ID_OR_NAME = "(id = :m OR name = :m)"


def machine_from_row(row: Row) -> Machine:
    return Machine(
        id=row["id"],
        workspace_id=row["workspace_id"],
        name=row["name"],
        command=row["command"],
        env=js(row["env"]),
        gpu=row["gpu"],
        price_per_hour=float(row["price_per_hour"]),
        max_sessions=int(row["max_sessions"]),
        probe=row["probe"],
        startup_timeout=float(row["startup_timeout"]),
        created_at=ts(row["created_at"]),
        host=bool(row["host"]),
    )


def scope(workspace_id: str | None) -> tuple[str, dict[str, Any]]:
    if workspace_id is None:
        return "", {}
    return " AND workspace_id = :ws", {"ws": workspace_id}


async def find(conn: Conn, workspace_id: str | None, machine: str) -> Row:
    where, params = scope(workspace_id)
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM machines WHERE {BY_ID_OR_NAME}{where} ORDER BY created_at",
        {"m": machine, **params},
    )
    if not rows:
        raise NotFound(f"machine {machine} not found")
    exact = [r for r in rows if r["id"] == machine]
    return exact[0] if exact else rows[0]


@dataclass
class CreateMachine(WriteJob[Machine]):
    workspace_id: str
    spec: MachineCreate
    host: bool = False

    async def run(self, conn: Conn, notices: list[Notice]) -> Machine:
        params: dict[str, Any] = {
            **self.spec.model_dump(), "id": new_id(), "workspace_id": self.workspace_id,
            "created_at": now(), "host": self.host,
        }  # fmt: skip
        names = COLUMNS.replace(" ", "").split(",")
        try:
            await conn.execute(
                f"INSERT INTO machines ({COLUMNS}) VALUES ({', '.join(':' + n for n in names)})",
                params,
            )
        except UNIQUE_ERRORS as exc:
            raise AlreadyExists(f"a machine named {self.spec.name!r} already exists") from exc
        return machine_from_row(await find(conn, self.workspace_id, params["id"]))


@dataclass
class DeleteMachine(WriteJob[None]):
    workspace_id: str | None
    machine: str

    async def run(self, conn: Conn, notices: list[Notice]) -> None:
        row = await find(conn, self.workspace_id, self.machine)
        await conn.execute("DELETE FROM machines WHERE id = :id", {"id": row["id"]})


HOLDERS = (
    "SELECT id, status, attributes FROM sessions WHERE kind = :kind AND workspace_id = :ws "
    "AND id <> :sid AND (status = 'running' OR updated_at > :recent)"
)


def holds_slot(row: Row, claim: SlotClaim, recent: datetime) -> bool:
    """A session the kind marks as using the pool: running, or claimed a moment ago."""
    attrs = js(row["attributes"])
    if not claim.held_by(attrs):
        return False
    if row["status"] == "running":
        return True
    claimed = attrs.get(claim.claimed_key)
    return isinstance(claimed, str) and datetime.fromisoformat(claimed) > recent


async def lock_pool(conn: Conn, pool: str) -> None:
    """Serialize the claims on one pool until the transaction ends.

    PostgreSQL: a transaction-scoped advisory lock on the pool's name, so two servers
    on one database cannot both take its last slot; SQLite: a write transaction is
    ``BEGIN IMMEDIATE``, so claims are serialized already, across processes too.
    """
    if conn.dialect == "postgresql":
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(:pool, 0))", {"pool": "slot:" + pool}
        )


@dataclass
class ClaimSlot(WriteJob[Row]):
    """Check a pool's concurrency limit and take a slot of it, atomically.

    The claim is a timestamp in the session's attributes (under the key the kind
    names) that counts until the session is running (then its status counts) or
    ``hold_seconds`` have passed.
    """

    workspace_id: str
    session_id: str
    claim: SlotClaim

    async def run(self, conn: Conn, notices: list[Notice]) -> Row:
        claim = self.claim
        await lock_pool(conn, claim.pool)
        row = await lock_session(conn, self.workspace_id, self.session_id)
        at = now()
        recent = at - timedelta(seconds=claim.hold_seconds)
        holders = await conn.fetch(
            HOLDERS,
            {"kind": row["kind"], "ws": self.workspace_id, "sid": self.session_id,
             "recent": recent},
        )  # fmt: skip
        if sum(holds_slot(r, claim, recent) for r in holders) >= claim.limit:
            raise Conflict(f"{claim.label} is at its limit of {claim.limit} concurrent session(s)")
        merged = {**js(row["attributes"]), claim.claimed_key: at.isoformat()}
        await conn.execute(
            "UPDATE sessions SET attributes = :a, version = version + 1, updated_at = :t "
            "WHERE id = :id",
            {"a": merged, "t": at, "id": self.session_id},
        )
        notices.append(Notice("updated", self.session_id))
        return await reread(conn, self.session_id)
