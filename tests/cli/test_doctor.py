"""``sessionhub --version`` and ``sessionhub doctor``."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import sessionhub
from sessionhub.cli import app
from sessionhub.core import doctor
from sessionhub.testing.fixtures import free_port

runner = CliRunner(env={"COLUMNS": "250"})


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith(f"sessionhub {sessionhub.__version__} (Python 3.")


def lines_of(output: str) -> dict[str, str]:
    """check name -> its line (the status word first)."""
    found = {}
    for line in output.splitlines():
        words = line.split()
        if words and words[0] in ("ok", "warn", "FAIL"):
            for name in ("python", "data dir", "database", "sandbox", "kernelspecs", "agent"):
                if line[6:].startswith(name):
                    found[name] = line
    return found


def test_doctor_on_a_ready_server(database_url: str, tmp_path: Path) -> None:
    where = ["--data-dir", str(tmp_path / "data"), "--database-url", database_url]
    assert runner.invoke(app, ["db", "upgrade", *where]).exit_code == 0
    result = runner.invoke(
        app, ["doctor", *where],
        env={"SESSIONHUB_AGENT_BASE_URL": "http://127.0.0.1:9/v1", "SESSIONHUB_AGENT_MODEL": "m"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    checks = lines_of(result.output)
    assert sorted(checks) == sorted(
        ["python", "data dir", "database", "sandbox", "kernelspecs", "agent"]
    )
    assert all(line.startswith("ok") for line in checks.values()), result.output
    assert "schema at" in checks["database"] and "(current)" in checks["database"]
    assert "bubblewrap works" in checks["sandbox"]
    assert "python3" in checks["kernelspecs"]
    assert result.output.rstrip().endswith("ready to serve")


def test_doctor_reads_but_never_creates_the_database(tmp_path: Path) -> None:
    result = runner.invoke(app, ["doctor", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output  # warnings only
    assert lines_of(result.output)["database"].startswith("warn")
    assert lines_of(result.output)["agent"].startswith("warn")
    assert "SESSIONHUB_AGENT_BASE_URL" in result.output
    assert not (tmp_path / "data").exists()


def test_doctor_fails_on_an_unreachable_database(tmp_path: Path) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/sessionhub"
    result = runner.invoke(app, ["doctor", "--data-dir", str(tmp_path), "--database-url", url])
    assert result.exit_code == 1
    assert lines_of(result.output)["database"].startswith("FAIL")
    assert "cannot reach the database" in result.output
    assert "broken: database" in result.output


def test_doctor_fails_on_an_old_schema(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "sessionhub.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num TEXT)")
        conn.execute("INSERT INTO alembic_version VALUES ('0001')")
    result = runner.invoke(app, ["doctor", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    line = lines_of(result.output)["database"]
    assert line.startswith("FAIL") and "schema at 0001" in line
    assert "sessionhub db upgrade" in result.output


def test_doctor_fails_without_bubblewrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sessionhub.execution.factory.bwrap_path", lambda: None)
    result = runner.invoke(app, ["doctor", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert lines_of(result.output)["sandbox"].startswith("FAIL")
    assert "apt-get install bubblewrap" in result.output


def test_doctor_on_a_data_dir_that_cannot_be_written(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = runner.invoke(app, ["doctor", "--data-dir", str(blocker / "data")])
    assert result.exit_code == 1
    assert lines_of(result.output)["data dir"].startswith("FAIL")


def test_old_python_and_half_configured_agent() -> None:
    old = doctor.check_python((3, 10, 4))
    assert old.status == "fail" and "3.11" in old.detail
    assert doctor.check_python((3, 12, 0)).status == "ok"
    from sessionhub.config import Settings

    half = doctor.check_agent(Settings(agent_base_url="http://x/v1"))
    assert half.status == "fail" and "SESSIONHUB_AGENT_MODEL" in half.fix


def test_doctor_says_whether_session_directories_get_a_disk_quota(tmp_path: Path) -> None:
    from sessionhub.config import Settings
    from tests.files.btrfs import mounted_btrfs

    plain = doctor.check_disk_quota(Settings(data_dir=tmp_path / "data"))
    assert plain.status == "warn" and "not btrfs" in plain.detail and "Disk quota" in plain.fix
    off = doctor.check_disk_quota(Settings(data_dir=tmp_path / "data", session_quota_mb=0))
    assert off.status == "ok" and "off" in off.detail
    with mounted_btrfs(tmp_path) as mount:
        on = doctor.check_disk_quota(Settings(data_dir=tmp_path / "data", files_root=mount))
    assert on.status == "ok" and "2048 MB per session directory" in on.detail
