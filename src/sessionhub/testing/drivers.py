"""Drivers for tests: deterministic, with no outside dependency."""

from __future__ import annotations

import asyncio
from typing import Any

from sessionhub.core.ports import Capability, Driver, RunContext
from sessionhub.domain.models import EventCreate


class WaitingDriver(Driver):
    """A run that records that it started, then waits until it is cancelled."""

    kind = "test-wait"
    capabilities = frozenset(
        {Capability.fork, Capability.rewind, Capability.runs, Capability.cancel}
    )

    async def run(self, ctx: RunContext, input: dict[str, Any]) -> None:
        await ctx.append([EventCreate(type="run.started", payload={"input": input})])
        if input.get("finish"):
            return
        await asyncio.Event().wait()
