"""`sessionhub machines add/ls/rm` on the database directly."""

from __future__ import annotations

import asyncio
from pathlib import Path

from typer.testing import CliRunner

from sessionhub.cli import app
from sessionhub.domain.machines import Machine
from sessionhub.store.sql.store import open_store

runner = CliRunner(env={"COLUMNS": "250"})


async def _machine(database_url: str, machine_id: str) -> Machine:
    store = open_store(database_url)
    await store.open()
    try:
        [found] = [m for m in await store.list_machines(workspace_id=None) if m.id == machine_id]
        return found
    finally:
        await store.close()


def test_machines_add_ls_rm(database_url: str, tmp_path: Path) -> None:
    where = ["--data-dir", str(tmp_path), "--database-url", database_url]
    added = runner.invoke(app, [
        "machines", "add", "comfy", "--command", "python -m http.server {port}", "--gpu", "T4",
        "--price-per-hour", "1.2", "--max-sessions", "2", "--probe", "http:/",
        "--env", "MODE=test", *where,
    ])  # fmt: skip
    assert added.exit_code == 0, added.output
    machine_id = added.output.strip()
    listed = runner.invoke(app, ["machines", "ls", *where])
    assert listed.exit_code == 0 and machine_id in listed.output and "comfy" in listed.output
    assert "T4" in listed.output and "http:/" in listed.output
    stored = asyncio.run(_machine(database_url, machine_id))
    assert (stored.command, stored.gpu, stored.price_per_hour, stored.max_sessions) == (
        "python -m http.server {port}", "T4", 1.2, 2)  # fmt: skip
    assert (stored.probe, stored.env, stored.startup_timeout) == ("http:/", {"MODE": "test"}, 60)
    dup = runner.invoke(app, ["machines", "add", "comfy", "--command", "x {port}", *where])
    assert dup.exit_code == 1 and "already exists" in dup.output
    bad = runner.invoke(app, ["machines", "add", "b", "--command", "x {nope}", *where])
    assert bad.exit_code == 1 and "command" in bad.output
    removed = runner.invoke(app, ["machines", "rm", "comfy", *where])
    assert removed.exit_code == 0, removed.output
    assert machine_id not in runner.invoke(app, ["machines", "ls", *where]).output
    gone = runner.invoke(app, ["machines", "rm", "comfy", *where])
    assert gone.exit_code == 1 and "not found" in gone.output
