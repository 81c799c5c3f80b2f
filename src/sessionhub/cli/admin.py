"""``sessionhub db …`` and ``sessionhub keys …``: work on the database directly."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from sessionhub.cli.errors import REFUSED, fail, load_settings, reported
from sessionhub.config import Settings, redact_url
from sessionhub.core.hub import Admin, open_admin, upgrade_database
from sessionhub.domain.models import ApiKey

T = TypeVar("T")
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
keys_app = typer.Typer(
    help="API keys (stored hashed; a secret is shown once).", no_args_is_help=True
)
console = Console()

DataDir = Annotated[
    Path | None, typer.Option(help="The server's data dir.", envvar="SESSIONHUB_DATA_DIR")
]
DatabaseUrl = Annotated[
    str | None, typer.Option(help="The server's database.", envvar="SESSIONHUB_DATABASE_URL")
]


def _settings(data_dir: Path | None, database_url: str | None) -> Settings:
    """The server's settings; without a flag or variable naming its database, only one there.

    The offline commands work on a server's existing database. Run from another folder
    the default (``.sessionhub`` here) names nothing, and opening it would create an
    empty database the server never reads: refuse and say how to point at the real one.
    """
    settings = load_settings(REFUSED, data_dir=data_dir, database_url=database_url)
    pointed = {"data_dir", "database_url"} & settings.model_fields_set
    default_db = settings.data_dir / "sessionhub.db"
    if not pointed and not default_db.exists():
        fail(
            f"no sessionhub database at {default_db.absolute()} (the default); point at the "
            "server's with --data-dir DIR or --database-url URL "
            "(or SESSIONHUB_DATA_DIR / SESSIONHUB_DATABASE_URL)"
        )
    return settings


def _run(work: Coroutine[Any, Any, T]) -> T:
    with reported(invalid=REFUSED):
        return asyncio.run(work)


def _with_admin(settings: Settings, work: Callable[[Admin], Awaitable[T]]) -> T:
    async def run() -> T:
        async with open_admin(settings) as admin:
            return await work(admin)

    return _run(run())


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Apply every pending migration (the server also does this on start)."""
    settings = _settings(data_dir, database_url)
    revision = _run(upgrade_database(settings))
    url = redact_url(settings.resolved_database_url)
    console.print(f"database {url} is at revision {revision}")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="A label for the key.")] = "key",
    workspace: Annotated[str, typer.Option(help="Workspace name (created if new).")] = "default",
    admin: Annotated[bool, typer.Option("--admin", help="May manage keys.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API key and print its secret once."""

    async def work(hub: Admin) -> str:
        ws = await hub.workspace_id(workspace)
        new = await hub.keys.create(ws, name, admin=admin)
        return new.secret

    secret = _with_admin(_settings(data_dir, database_url), work)
    typer.echo(secret)


@keys_app.command("list")
def keys_list(
    output: Annotated[
        Literal["table", "json"],
        typer.Option("--output", "-o", help="table, or json (one array, every field)."),
    ] = "table",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List every key of every workspace (never the secrets); ids are printed whole."""

    async def work(hub: Admin) -> list[ApiKey]:
        return await hub.keys.list(None)

    keys = _with_admin(_settings(data_dir, database_url), work)
    if output == "json":
        typer.echo(json.dumps([key.model_dump(mode="json") for key in keys], indent=2))
    else:
        # In a pipe nothing folds (a script reads whole lines); on a terminal only
        # the columns after the id fold to fit.
        target = console if console.is_terminal else Console(width=10_000)
        target.print(_keys_table(keys), crop=False)


def _keys_table(keys: list[ApiKey]) -> Table:
    """Ids never shrink (``keys revoke`` takes them): they keep their whole width and the
    other columns fold, whatever the terminal's width (80 columns in a pipe)."""
    table = Table(box=None, header_style="bold")
    width = max((len(key.id) for key in keys), default=2)
    table.add_column("ID", no_wrap=True, min_width=width)
    for name in ("NAME", "PREFIX", "WORKSPACE", "ADMIN", "CREATED", "REVOKED"):
        table.add_column(name, overflow="fold")
    for key in keys:
        table.add_row(
            key.id, key.name, key.prefix + "…", key.workspace_id, "yes" if key.admin else "",
            key.created_at.isoformat(timespec="seconds"),
            key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "",
        )  # fmt: skip
    return table


@keys_app.command("revoke")
def keys_revoke(key_id: str, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Revoke a key by id; running servers stop accepting it within 5 seconds."""

    async def work(hub: Admin) -> None:
        await hub.keys.revoke(None, key_id)

    _with_admin(_settings(data_dir, database_url), work)
    console.print(f"revoked {key_id}")
