"""`sessionhub db upgrade` and `sessionhub keys …` against a real database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sessionhub.cli import app
from sessionhub.store import migrations

runner = CliRunner(env={"COLUMNS": "250"})


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split(" "))


def test_db_upgrade_then_keys_lifecycle(database_url: str, tmp_path: Path) -> None:
    where = ["--data-dir", str(tmp_path), "--database-url", database_url]
    assert f"is at revision {migrations.head_revision()}" in run("db", "upgrade", *where)
    secret = run("keys", "create", "--name", "ci", "--workspace", "team", *where).strip()
    assert secret.startswith("shk_")
    listing = run("keys", "list", *where)
    assert "ci" in listing and secret not in listing
    key_id = next(line.split()[0] for line in listing.splitlines() if " ci " in line)
    keys = json.loads(run("keys", "list", "--output", "json", *where))
    assert [k["id"] for k in keys if k["name"] == "ci"] == [key_id]
    narrow = CliRunner(env={"COLUMNS": "80"}).invoke(app, ["keys", "list", *where])
    assert narrow.exit_code == 0, narrow.output
    assert key_id in narrow.output.split()  # whole, even at 80 columns
    assert "revoked" in run("keys", "revoke", key_id, *where)
    again = runner.invoke(app, ["keys", "revoke", key_id, *where])
    assert again.exit_code == 1 and "not found" in again.output


def test_serve_refuses_no_auth_off_loopback(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["serve", "--no-auth", "--host", "0.0.0.0", "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "loopback" in result.output


@pytest.mark.parametrize("url", ["mysql://x/y", "nonsense"])
def test_unknown_database_scheme_is_a_clear_error(url: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["keys", "list", "--database-url", url])
    assert result.exit_code == 1
    assert "unsupported database URL" in result.output
