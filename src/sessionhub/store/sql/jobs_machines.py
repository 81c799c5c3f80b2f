"""Machines (compute profiles): rows, reads and write jobs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sessionhub.domain.errors import AlreadyExists, Conflict, NotFound
from sessionhub.domain.machines import Machine, MachineCreate
from sessionhub.store.sql.db import Conn, Row
from sessionhub.store.sql.jobs import UNIQUE_ERRORS, lock_session, reread
from sessionhub.store.sql.rows import js, new_id, now, ts
from sessionhub.store.sql.writer import Notice, WriteJob

COLUMNS = (
    "id, workspace_id, name, command, env, gpu, price_per_hour, max_sessions, probe, "
    "startup_timeout, created_at"
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

    async def run(self, conn: Conn, notices: list[Notice]) -> Machine:
        params: dict[str, Any] = {
            **self.spec.model_dump(), "id": new_id(), "workspace_id": self.workspace_id,
            "created_at": now(),
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


CLAIMED_AT = "slot_claimed_at"
HOLDERS = (
    "SELECT id, status, attributes FROM sessions WHERE kind = 'machine' AND workspace_id = :ws "
    "AND id <> :sid AND (status = 'running' OR updated_at > :recent)"
)


def holds_slot(row: Row, machine_id: str, recent: datetime) -> bool:
    """A lease of the machine that has not ended: running, or claimed a moment ago."""
    attrs = js(row["attributes"])
    if attrs.get("machine_ref") != machine_id or attrs.get("end_time") is not None:
        return False
    if row["status"] == "running":
        return True
    claimed = attrs.get(CLAIMED_AT)
    return isinstance(claimed, str) and datetime.fromisoformat(claimed) > recent


@dataclass
class ClaimMachineSlot(WriteJob[Row]):
    """Check the machine's concurrency limit and take a slot, atomically.

    The machine's row is locked (PostgreSQL ``FOR UPDATE``; SQLite writes are
    serialized anyway), so two servers on one database cannot both take the last slot.
    The claim is a timestamp on the session that counts until the lease is running
    (then its status counts) or ``hold_seconds`` have passed.
    """

    workspace_id: str
    session_id: str
    machine_id: str
    hold_seconds: float

    async def run(self, conn: Conn, notices: list[Notice]) -> Row:
        lock = " FOR UPDATE" if conn.dialect == "postgresql" else ""
        machine = await conn.fetchrow(
            f"SELECT name, max_sessions FROM machines WHERE id = :m AND workspace_id = :ws{lock}",
            {"m": self.machine_id, "ws": self.workspace_id},
        )
        if machine is None:
            raise NotFound(f"machine {self.machine_id} not found")
        at = now()
        recent = at - timedelta(seconds=self.hold_seconds)
        rows = await conn.fetch(
            HOLDERS, {"ws": self.workspace_id, "sid": self.session_id, "recent": recent}
        )
        limit = int(machine["max_sessions"])
        if sum(holds_slot(r, self.machine_id, recent) for r in rows) >= limit:
            raise Conflict(
                f"machine {machine['name']!r} is at its limit of {limit} concurrent session(s)"
            )
        row = await lock_session(conn, self.workspace_id, self.session_id)
        merged = {**js(row["attributes"]), CLAIMED_AT: at.isoformat()}
        await conn.execute(
            "UPDATE sessions SET attributes = :a, version = version + 1, updated_at = :t "
            "WHERE id = :id",
            {"a": merged, "t": at, "id": self.session_id},
        )
        notices.append(Notice("updated", self.session_id))
        return await reread(conn, self.session_id)
