"""``sessionhub machines …``: compute profiles, on the database directly like ``keys``."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from sessionhub.cli.admin import (
    DatabaseUrl,
    DataDir,
    _settings,
    _with_admin,
    console,
)
from sessionhub.cli.errors import fail
from sessionhub.core.hub import Admin
from sessionhub.domain.machines import Machine, MachineCreate

app = typer.Typer(help="Machines: compute profiles that machine sessions launch.",
                  no_args_is_help=True)  # fmt: skip
Workspace = Annotated[str, typer.Option(help="Workspace name (created if new).")]


def _env(pairs: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--env")
        env[name] = value
    return env


@app.command("add")
def add(
    name: str,
    command: Annotated[str, typer.Option(help="Command line; {port} and {session_dir} filled.")],
    gpu: Annotated[str, typer.Option(help="GPU label.")] = "CPU",
    price_per_hour: Annotated[float, typer.Option(help="Cost per hour of runtime.")] = 0.0,
    max_sessions: Annotated[int, typer.Option(help="Concurrent sessions allowed.")] = 1,
    probe: Annotated[str, typer.Option(help="'tcp' or 'http:/path'.")] = "tcp",
    startup_timeout: Annotated[float, typer.Option(help="Seconds to answer the probe.")] = 60.0,
    env: Annotated[list[str] | None, typer.Option(help="NAME=VALUE, repeatable.")] = None,
    host: Annotated[
        bool,
        typer.Option(
            "--host",
            help="Run it on the host, outside the sandbox (trusted commands only; "
            "its environment is still its own, never the server's).",
        ),
    ] = False,
    workspace: Workspace = "default",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Register a machine and print its id."""
    try:
        spec = MachineCreate(
            name=name, command=command, env=_env(env or []), gpu=gpu,
            price_per_hour=price_per_hour, max_sessions=max_sessions, probe=probe,
            startup_timeout=startup_timeout,
        )  # fmt: skip
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        fail(f"{where}: {first['msg']}")

    async def work(hub: Admin) -> Machine:
        ws = await hub.workspace_id(workspace)
        return await hub.machines.create(ws, spec, host=host)

    typer.echo(_with_admin(_settings(data_dir, database_url), work).id)


@app.command("ls")
def ls(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """List every machine of every workspace."""

    async def work(hub: Admin) -> Table:
        table = Table("id", "name", "workspace", "gpu", "price/h", "max", "probe", "where",
                      "command")  # fmt: skip
        for m in await hub.machines.list(None):
            table.add_row(m.id, m.name, m.workspace_id, m.gpu, f"{m.price_per_hour:g}",
                          str(m.max_sessions), m.probe, "host" if m.host else "sandbox",
                          m.command)  # fmt: skip
        return table

    console.print(_with_admin(_settings(data_dir, database_url), work))


@app.command("rm")
def rm(machine: str, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Remove a machine by id or name."""

    async def work(hub: Admin) -> None:
        await hub.machines.delete(None, machine)

    _with_admin(_settings(data_dir, database_url), work)
    console.print(f"removed {machine}")
