"""Write jobs for runs, tenancy (workspaces, API keys) and housekeeping."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sessionhub.domain.errors import AlreadyExists, NotFound, RunActive
from sessionhub.domain.models import RunStatus
from sessionhub.store.base import NewKey
from sessionhub.store.sql.db import Conn, Row
from sessionhub.store.sql.jobs import DESCENDANTS, UNIQUE_ERRORS, lock_session
from sessionhub.store.sql.rows import hash_secret, key_from_row, new_id, now
from sessionhub.store.sql.writer import Notice, WriteJob

RUN_COLUMNS = "id, session_id, driver, status, input, error, owner, started_at, ended_at"


@dataclass
class StartRun(WriteJob[Row]):
    workspace_id: str
    session_id: str
    driver: str
    input: dict[str, Any]
    owner: str

    async def run(self, conn: Conn, notices: list[Notice]) -> Row:
        await lock_session(conn, self.workspace_id, self.session_id)
        params: dict[str, Any] = {
            "id": new_id(), "session_id": self.session_id, "driver": self.driver,
            "status": "running", "input": self.input, "owner": self.owner, "started_at": now(),
        }  # fmt: skip
        try:
            await conn.execute(
                f"INSERT INTO runs ({RUN_COLUMNS}) VALUES (:id, :session_id, :driver, :status, "
                ":input, NULL, :owner, :started_at, NULL)",
                params,
            )
        except UNIQUE_ERRORS as exc:
            raise RunActive(f"session {self.session_id} already has a run in progress") from exc
        await _set_status(conn, self.session_id, "running")
        notices.append(Notice("run", self.session_id))
        return await _run_row(conn, params["id"])


@dataclass
class FinishRun(WriteJob[Row]):
    run_id: str
    status: RunStatus
    error: str | None

    async def run(self, conn: Conn, notices: list[Notice]) -> Row:
        row = await _run_row(conn, self.run_id)
        if row["status"] == "running":
            await conn.execute(
                "UPDATE runs SET status = :s, error = :e, ended_at = :t WHERE id = :id",
                {"s": self.status.value, "e": self.error, "t": now(), "id": self.run_id},
            )
            session_status = "failed" if self.status is RunStatus.failed else "idle"
            await _set_status(conn, row["session_id"], session_status)
            notices.append(Notice("run", row["session_id"]))
        return await _run_row(conn, self.run_id)


@dataclass
class InterruptRuns(WriteJob[int]):
    """Mark as interrupted every running run of the given dead owners."""

    owners: list[str]

    async def run(self, conn: Conn, notices: list[Notice]) -> int:
        total = 0
        for owner in self.owners:
            rows = await conn.fetch(
                "SELECT id, session_id FROM runs WHERE owner = :o AND status = 'running'",
                {"o": owner},
            )
            for row in rows:
                await conn.execute(
                    "UPDATE runs SET status = 'interrupted', ended_at = :t, "
                    "error = 'the server process running it stopped' WHERE id = :id",
                    {"t": now(), "id": row["id"]},
                )
                await _set_status(conn, row["session_id"], "idle")
                total += 1
        return total


async def _set_status(conn: Conn, session_id: str, status: str) -> None:
    await conn.execute(
        "UPDATE sessions SET status = :s, version = version + 1, updated_at = :t WHERE id = :id",
        {"s": status, "t": now(), "id": session_id},
    )


async def _run_row(conn: Conn, run_id: str) -> Row:
    row = await conn.fetchrow(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = :id", {"id": run_id})
    if row is None:
        raise NotFound(f"run {run_id} not found")
    return row


@dataclass
class CreateWorkspace(WriteJob[Row]):
    name: str

    async def run(self, conn: Conn, notices: list[Notice]) -> Row:
        params = {"id": new_id(), "name": self.name, "t": now()}
        try:
            await conn.execute(
                "INSERT INTO workspaces (id, name, created_at) VALUES (:id, :name, :t)", params
            )
        except UNIQUE_ERRORS as exc:
            raise AlreadyExists(f"workspace {self.name!r} already exists") from exc
        row = await conn.fetchrow("SELECT * FROM workspaces WHERE id = :id", {"id": params["id"]})
        assert row is not None
        return row


@dataclass
class CreateKey(WriteJob[NewKey]):
    workspace_id: str
    name: str
    admin: bool

    async def run(self, conn: Conn, notices: list[Notice]) -> NewKey:
        exists = await conn.fetchval(
            "SELECT 1 FROM workspaces WHERE id = :id", {"id": self.workspace_id}
        )
        if exists is None:
            raise NotFound(f"workspace {self.workspace_id} not found")
        secret = "shk_" + secrets.token_urlsafe(32)
        params: dict[str, Any] = {
            "id": new_id(), "ws": self.workspace_id, "name": self.name, "prefix": secret[:10],
            "hash": hash_secret(secret), "admin": self.admin, "t": now(),
        }  # fmt: skip
        await conn.execute(
            "INSERT INTO api_keys (id, workspace_id, name, prefix, key_hash, admin, created_at) "
            "VALUES (:id, :ws, :name, :prefix, :hash, :admin, :t)",
            params,
        )
        row = await conn.fetchrow("SELECT * FROM api_keys WHERE id = :id", {"id": params["id"]})
        assert row is not None
        return NewKey(key_from_row(row), secret)


@dataclass
class RevokeKey(WriteJob[None]):
    workspace_id: str | None
    key_id: str

    async def run(self, conn: Conn, notices: list[Notice]) -> None:
        scope = "" if self.workspace_id is None else " AND workspace_id = :ws"
        changed = await conn.execute(
            f"UPDATE api_keys SET revoked_at = :t WHERE id = :id{scope} AND revoked_at IS NULL",
            {"t": now(), "id": self.key_id, "ws": self.workspace_id},
        )
        if not changed:
            raise NotFound(f"active key {self.key_id} not found")
        notices.append(Notice("key-revoked", self.key_id))


@dataclass
class DeleteExpired(WriteJob[list[tuple[str, str]]]):
    moment: datetime
    limit: int

    async def run(self, conn: Conn, notices: list[Notice]) -> list[tuple[str, str]]:
        rows = await conn.fetch(
            "SELECT id, workspace_id FROM sessions WHERE expires_at IS NOT NULL "
            "AND expires_at <= :now ORDER BY expires_at LIMIT :n",
            {"now": self.moment, "n": self.limit},
        )
        gone: list[tuple[str, str]] = []
        for row in rows:
            tree = await conn.fetch(DESCENDANTS, {"id": row["id"]})
            await conn.execute("DELETE FROM sessions WHERE id = :id", {"id": row["id"]})
            gone.extend((row["workspace_id"], r["id"]) for r in tree)
        notices.extend(Notice("deleted", sid) for _, sid in gone)
        return gone


@dataclass
class RequestCancel(WriteJob[None]):
    """Writes nothing: the notice reaches the process that owns the run."""

    session_id: str

    async def run(self, conn: Conn, notices: list[Notice]) -> None:
        notices.append(Notice("cancel", self.session_id))
