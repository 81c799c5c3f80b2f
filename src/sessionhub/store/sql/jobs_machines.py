"""Machines (compute profiles): rows, reads and write jobs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sessionhub.core.errors import AlreadyExists, NotFound
from sessionhub.core.machines import Machine, MachineCreate
from sessionhub.store.sql.db import Conn, Row
from sessionhub.store.sql.jobs import UNIQUE_ERRORS
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
