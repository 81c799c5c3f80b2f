"""``sessionhub db backup PATH`` and ``sessionhub db restore PATH``.

SQLite: the online backup API (``sqlite3.Connection.backup``), a page batch at a
time with a progress bar of pages, safe while a server writes (the copy is one
consistent snapshot). Restore refuses while a server holds the data dir (its
``server.lock``), checks the file is a sessionhub database, and copies it in the
same way. PostgreSQL: ``pg_dump --format=custom`` / ``pg_restore --clean``, when
those programs are installed (no progress total: they report none, so the bar shows
the table they are on). Both cover the database only, not the session files under
the data dir (copy ``<data dir>/files`` alongside).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from sessionhub.cli.admin import DatabaseUrl, DataDir, db_app
from sessionhub.cli.admin import _settings as server_settings
from sessionhub.cli.errors import fail, reported
from sessionhub.config import Settings, redact_url
from sessionhub.serving import data_dir_lock, uses_sqlite

PAGES_PER_STEP = 256
err = Console(stderr=True, highlight=False, soft_wrap=True)
PG_CLIENT_HINT = "install the PostgreSQL client programs (apt-get install postgresql-client)"


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        console=err, transient=True, disable=not err.is_terminal,
    )  # fmt: skip


@contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """A temporary file next to ``path``, moved onto it only when the work succeeded."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        with suppress(FileNotFoundError):
            os.unlink(tmp)


def sqlite_copy(source: sqlite3.Connection, target: Path, what: str) -> int:
    """Copy ``source`` into the SQLite file ``target`` page batch by batch; the page count."""
    with _progress() as progress:
        task = progress.add_task(what, total=None)

        def step(_status: int, remaining: int, total: int) -> None:
            progress.update(task, completed=total - remaining, total=total)

        dest = sqlite3.connect(target)
        try:
            source.backup(dest, pages=PAGES_PER_STEP, progress=step)
            pages: int = dest.execute("PRAGMA page_count").fetchone()[0]
        finally:
            dest.close()
    return pages


def _sqlite_path(settings: Settings) -> Path:
    return Path(settings.resolved_database_url[len("sqlite:///") :])


def _output(path: Path) -> Path:
    if not path.parent.is_dir():
        fail(f"cannot write {path}: the folder {path.parent} does not exist; create it first")
    if path.is_dir():
        fail(f"cannot write {path}: it is a folder; give a file name")
    return path


def backup_sqlite(settings: Settings, path: Path) -> None:
    source = sqlite3.connect(f"file:{_sqlite_path(settings)}?mode=ro", uri=True)
    try:
        with _atomic(_output(path)) as tmp:
            pages = sqlite_copy(source, tmp, "backup")
    finally:
        source.close()
    err.print(f"backed up {redact_url(settings.resolved_database_url)} to {path} ({pages} pages)")


def _check_sessionhub_file(path: Path) -> sqlite3.Connection:
    try:
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        source.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error as exc:
        fail(f"{path} is not a sessionhub SQLite backup ({exc})")
    return source


def restore_sqlite(settings: Settings, path: Path) -> None:
    target = _sqlite_path(settings)
    source = _check_sessionhub_file(path)
    try:
        with reported(), data_dir_lock(settings.data_dir):
            sqlite_copy(source, target, "restore")
    finally:
        source.close()
    err.print(f"restored {path} into {target}; the server migrates it on its next start")


def _pg_program(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        fail(f"{name} is not installed, and PostgreSQL is backed up through it; {PG_CLIENT_HINT}")
    return found


def run_pg(argv: list[str], what: str) -> None:
    """Run pg_dump/pg_restore --verbose, showing the step it is on; one line if it fails."""
    with _progress() as progress:
        task = progress.add_task(what, total=None)
        said: list[str] = []
        with subprocess.Popen(
            argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
        ) as proc:
            assert proc.stderr is not None
            for line in proc.stderr:
                said.append(line.strip())
                progress.update(task, description=f"{what}: {line.strip()[-60:]}")
            code = proc.wait()
    if code != 0:
        errors = [line for line in said if "error" in line.lower()] or said[-1:]
        fail(f"{Path(argv[0]).name} failed: {errors[0] if errors else f'exit {code}'}")


def backup_postgres(settings: Settings, path: Path) -> None:
    url = settings.resolved_database_url
    with _atomic(_output(path)) as tmp:
        run_pg(
            [_pg_program("pg_dump"), "--format=custom", "--verbose", f"--file={tmp}", f"--dbname={url}"],
            "backup",
        )  # fmt: skip
    err.print(f"backed up {redact_url(url)} to {path} (pg_dump custom format)")


def restore_postgres(settings: Settings, path: Path) -> None:
    url = settings.resolved_database_url
    argv = [
        _pg_program("pg_restore"), "--clean", "--if-exists", "--no-owner", "--verbose",
        "--single-transaction", f"--dbname={url}", str(path),
    ]  # fmt: skip
    run_pg(argv, "restore")
    err.print(f"restored {path} into {redact_url(url)}")


@db_app.command("backup")
def db_backup(
    path: Annotated[Path, typer.Argument(help="The backup file to write.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Back up the database (SQLite: online, while the server runs; PostgreSQL: pg_dump)."""
    settings = server_settings(data_dir, database_url)
    if uses_sqlite(settings):
        backup_sqlite(settings, path)
    else:
        backup_postgres(settings, path)


@db_app.command("restore")
def db_restore(
    path: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="A backup file.")
    ],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Replace the database with a backup (SQLite: with the server stopped; PostgreSQL:
    pg_restore --clean in one transaction)."""
    settings = server_settings(data_dir, database_url)
    if uses_sqlite(settings):
        restore_sqlite(settings, path)
    else:
        restore_postgres(settings, path)


def register() -> None:
    """The commands are on ``db_app`` once this module is imported; nothing else to do."""
