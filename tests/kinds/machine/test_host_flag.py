"""The ``host`` flag: only the operator's CLI registers a machine that runs outside the
sandbox; a machine added without it (or over HTTP) runs sandboxed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from typer.testing import CliRunner

from tests.cli.test_machines import _machine, app

runner = CliRunner(env={"COLUMNS": "250"})


def test_only_the_cli_flag_makes_a_host_machine(database_url: str, tmp_path: Path) -> None:
    where = ["--data-dir", str(tmp_path), "--database-url", database_url]
    ids = {}
    for name, flags in (("trusted", ["--host"]), ("tenant", [])):
        added = runner.invoke(app, ["machines", "add", name, "--command", "x {port}",
                                    *flags, *where])  # fmt: skip
        assert added.exit_code == 0, added.output
        ids[name] = added.output.strip()
    assert asyncio.run(_machine(database_url, ids["trusted"])).host is True
    assert asyncio.run(_machine(database_url, ids["tenant"])).host is False
    listed = runner.invoke(app, ["machines", "ls", *where]).output
    (trusted,) = [line for line in listed.splitlines() if ids["trusted"] in line]
    (tenant,) = [line for line in listed.splitlines() if ids["tenant"] in line]
    assert "host" in trusted and "sandbox" in tenant
