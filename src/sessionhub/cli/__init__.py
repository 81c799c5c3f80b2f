"""The ``sessionhub`` command."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

import sessionhub
from sessionhub.cli import admin, backup, doctor, machines, server

app = typer.Typer(
    name="sessionhub",
    help="One self-hosted server for every kind of session.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("serve")(server.serve)
app.command("doctor")(doctor.doctor_command)
app.add_typer(admin.db_app, name="db")
app.add_typer(admin.keys_app, name="keys")
app.add_typer(machines.app, name="machines")
backup.register()  # `db backup` and `db restore`


def installed_version() -> str:
    try:
        return version("sessionhub")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        return sessionhub.__version__


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"sessionhub {installed_version()} (Python {platform.python_version()})")
        raise typer.Exit()


@app.callback()
def root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """One self-hosted server for every kind of session."""


def _mount_optional() -> None:
    try:
        from sessionhub.cli.sessions import app as sessions_app
    except ImportError:  # pragma: no cover - present once the client lands
        return
    app.add_typer(sessions_app, name="sessions")


_mount_optional()


def main() -> None:
    app()
