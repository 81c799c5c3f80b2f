"""``sessionhub doctor``: is this machine ready to serve, and if not, what to fix.

Each check prints one line (ok / warn / FAIL) and, when it is not ok, the fix under
it; the exit is 1 when any check failed (a warning alone exits 0).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from sessionhub.cli.errors import REFUSED, load_settings
from sessionhub.config import Settings
from sessionhub.core import doctor
from sessionhub.core.doctor import Check
from sessionhub.domain.errors import SessionHubError
from sessionhub.serving import check_data_dir

STYLE = {"ok": ("ok  ", "green"), "warn": ("warn", "yellow"), "fail": ("FAIL", "bold red")}


def check_data_dir_writable(settings: Settings) -> Check:
    try:
        check_data_dir(settings.data_dir)
    except SessionHubError as exc:
        return Check("data dir", "fail", exc.detail, "see the message")
    return Check("data dir", "ok", f"{settings.data_dir.absolute()} is writable")


async def run_checks(settings: Settings) -> list[Check]:
    return [
        doctor.check_python(),
        check_data_dir_writable(settings),
        await doctor.check_database(settings),
        await doctor.check_sandbox(settings),
        doctor.check_disk_quota(settings),
        doctor.check_kernelspecs(settings),
        doctor.check_agent(settings),
    ]


def render(checks: list[Check], console: Console) -> None:
    width = max(len(check.name) for check in checks)
    for check in checks:
        label, style = STYLE[check.status]
        console.print(Text.assemble((label, style), f"  {check.name:<{width}}  ", check.detail))
        if check.status != "ok" and check.fix:
            console.print(Text(f"      {'':<{width}}  fix: {check.fix}"))


def doctor_command(
    data_dir: Annotated[
        Path | None, typer.Option(help="The server's data dir.", envvar="SESSIONHUB_DATA_DIR")
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="The server's database.", envvar="SESSIONHUB_DATABASE_URL"),
    ] = None,
) -> None:
    """Check Python, the data dir, the database and its migrations, the sandbox, the
    kernelspecs and the agent provider; print what to fix; exit 1 if something is broken."""
    settings = load_settings(REFUSED, data_dir=data_dir, database_url=database_url)
    console = Console(highlight=False, soft_wrap=True)
    checks = asyncio.run(run_checks(settings))
    render(checks, console)
    failed = [check.name for check in checks if check.status == "fail"]
    if failed:
        console.print(f"broken: {', '.join(failed)}")
        raise typer.Exit(1)
    console.print("ready to serve")
