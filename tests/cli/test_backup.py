"""``sessionhub db backup`` / ``db restore`` on SQLite (online backup API) and PostgreSQL
(pg_dump / pg_restore)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sessionhub.cli import app
from sessionhub.serving import data_dir_lock

runner = CliRunner(env={"COLUMNS": "250"})


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def key_names(where: list[str]) -> list[str]:
    keys = json.loads(run("keys", "list", "--output", "json", *where))
    return sorted(key["name"] for key in keys)


def test_backup_then_restore(database_url: str, tmp_path: Path) -> None:
    where = ["--data-dir", str(tmp_path / "data"), "--database-url", database_url]
    run("keys", "create", "--name", "before", *where)
    backup = tmp_path / "backup.db"
    assert "backed up" in run("db", "backup", str(backup), *where)
    assert backup.stat().st_size > 0
    run("keys", "create", "--name", "after", *where)
    assert key_names(where) == ["after", "before"]
    assert "restored" in run("db", "restore", str(backup), *where)
    assert key_names(where) == ["before"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_sqlite_restore_refuses_while_a_server_holds_the_data_dir(tmp_path: Path) -> None:
    where = ["--data-dir", str(tmp_path / "data")]
    run("db", "upgrade", *where)
    run("db", "backup", str(tmp_path / "b.db"), *where)
    with data_dir_lock(tmp_path / "data"):
        result = runner.invoke(app, ["db", "restore", str(tmp_path / "b.db"), *where])
    assert result.exit_code == 1
    assert "in use by another sessionhub server" in result.output


def test_sqlite_restore_refuses_a_file_that_is_not_a_backup(tmp_path: Path) -> None:
    where = ["--data-dir", str(tmp_path / "data")]
    run("db", "upgrade", *where)
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello")
    result = runner.invoke(app, ["db", "restore", str(bogus), *where])
    assert result.exit_code == 1
    assert "is not a sessionhub SQLite backup" in result.output


def test_backup_into_a_missing_folder(tmp_path: Path) -> None:
    where = ["--data-dir", str(tmp_path / "data")]
    run("db", "upgrade", *where)
    result = runner.invoke(app, ["db", "backup", str(tmp_path / "no" / "b.db"), *where])
    assert result.exit_code == 1
    assert "does not exist" in result.output


def test_postgres_without_pg_dump_is_a_clear_error(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sessionhub.cli.backup.shutil.which", lambda name: None)
    result = runner.invoke(
        app, ["db", "backup", str(tmp_path / "b.dump"), "--database-url", postgres_url]
    )
    assert result.exit_code == 1
    assert "pg_dump is not installed" in result.output and "postgresql-client" in result.output
    assert not (tmp_path / "b.dump").exists()
