"""The ``sessionhub`` command."""

from __future__ import annotations

import typer

from sessionhub.cli import admin, machines, server

app = typer.Typer(
    name="sessionhub",
    help="One self-hosted server for every kind of session.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("serve")(server.serve)
app.add_typer(admin.db_app, name="db")
app.add_typer(admin.keys_app, name="keys")
app.add_typer(machines.app, name="machines")


def _mount_optional() -> None:
    try:
        from sessionhub.cli.sessions import app as sessions_app
    except ImportError:  # pragma: no cover - present once the client lands
        return
    app.add_typer(sessions_app, name="sessions")


_mount_optional()


def main() -> None:
    app()
