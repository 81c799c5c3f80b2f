"""Machines: registered compute profiles that ``machine`` sessions launch."""

from __future__ import annotations

import re
import shlex
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_validator

from sessionhub.domain.models import Model, Name, Text

PLACEHOLDERS = {"port": 0, "session_dir": "/dir"}
PROBE = re.compile(r"^(tcp|http:/[^\s]*)$")
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]


def command_args(template: str, *, port: int, session_dir: str) -> list[str]:
    """Split first, then fill each argument: a session dir with spaces stays one argument."""
    return [arg.format(port=port, session_dir=session_dir) for arg in shlex.split(template)]


class MachineCreate(Model):
    name: Name
    command: Annotated[Text, StringConstraints(min_length=1, max_length=4000)] = Field(
        description="Command line; {port} and {session_dir} are filled in at launch."
    )
    env: dict[EnvName, Text] = Field(default_factory=dict)
    gpu: Annotated[Text, StringConstraints(min_length=1, max_length=40)] = "CPU"
    price_per_hour: Annotated[float, Field(ge=0, le=1e6, allow_inf_nan=False)] = 0.0
    max_sessions: Annotated[int, Field(ge=1, le=1000)] = 1
    probe: Text = Field(
        default="tcp", description="'tcp' (the port accepts) or 'http:/path' (answers < 500)."
    )
    startup_timeout: Annotated[float, Field(gt=0, le=3600)] = 60.0

    @field_validator("command")
    @classmethod
    def _template(cls, value: str) -> str:
        try:
            args = command_args(value, **PLACEHOLDERS)  # type: ignore[arg-type]
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"only {{port}} and {{session_dir}} may be used: {exc}") from None
        if not args:
            raise ValueError("the command is empty")
        return value

    @field_validator("probe")
    @classmethod
    def _probe(cls, value: str) -> str:
        if not PROBE.match(value):
            raise ValueError("probe must be 'tcp' or 'http:/path'")
        return value


class Machine(MachineCreate):
    id: str
    workspace_id: str
    created_at: datetime
    host: bool = Field(
        default=False,
        description="Registered by the operator on the host (the CLI), so its command "
        "runs outside the sandbox (with its own environment, never the server's). "
        "Never settable over HTTP: a workspace admin's machine always runs sandboxed.",
    )


class MachineList(Model):
    items: list[Machine]


JsonScalar = str | int | float | bool | None


class SlotClaim(Model):
    """Take one of ``limit`` concurrent slots of ``pool`` for a session, atomically.

    The store keeps no kind's attribute layout: the kind names the attribute values
    that mark a session (of the claimer's kind, in its workspace) as using the pool
    (``holder``; ``None`` matches a missing or null attribute) and the attribute the
    claim's time is written to (``claimed_key``). A holder counts while its status is
    running, or while its own claim is younger than ``hold_seconds`` (a lease that
    has claimed but not started yet).
    """

    pool: Annotated[str, StringConstraints(min_length=1)]
    limit: Annotated[int, Field(ge=1)]
    holder: dict[str, JsonScalar]
    claimed_key: Annotated[str, StringConstraints(min_length=1)]
    hold_seconds: Annotated[float, Field(ge=0)]
    label: str = Field(description="What the pool is, for the Conflict message.")

    def held_by(self, attributes: dict[str, Any]) -> bool:
        """Do these attributes mark a session as using the pool?"""
        return all(attributes.get(key) == value for key, value in self.holder.items())


class TimeoutExtension(Model):
    """``POST /v1/sessions/{id}/timeout``: move a machine lease's deadline later."""

    add_seconds: Annotated[float, Field(gt=0, le=7 * 24 * 3600, allow_inf_nan=False)]
