"""How a command ends on a mistake: one line on stderr that says what to do, a non-zero exit.

For ``serve``, exit 2 is a mistake in what was asked (a setting, a flag) and exit 1
the world refusing it (a port in use, a database out of reach, a locked data dir);
the admin commands (``db``, ``keys``, ``machines``) end every error with exit 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from pydantic import ValidationError

from sessionhub.config import Settings, settings_error
from sessionhub.domain.errors import Invalid, SessionHubError

USAGE = 2
REFUSED = 1


def fail(message: str, code: int = REFUSED) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def load_settings(invalid: int = USAGE, **flags: Any) -> Settings:
    """Environment first, flags (when given) over it; a bad value is one line, exit ``invalid``."""
    given = {k: v for k, v in flags.items() if v is not None and v is not False}
    try:
        return Settings(**given)
    except ValidationError as exc:
        fail(settings_error(exc), invalid)


@contextmanager
def reported(invalid: int = USAGE) -> Iterator[None]:
    """A domain error from the work inside ends the command with its detail."""
    try:
        yield
    except SessionHubError as exc:
        fail(exc.detail, invalid if isinstance(exc, Invalid) else REFUSED)
