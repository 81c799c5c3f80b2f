"""The ``agent`` driver: an LLM loop with Mix's tools, in the session's directory."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sessionhub.core.ports import Capability, Driver, Host, RunContext

if TYPE_CHECKING:
    from sessionhub.config import Settings


class AgentDriver(Driver):
    kind = "agent"
    capabilities = frozenset(
        {Capability.fork, Capability.rewind, Capability.runs, Capability.cancel}
    )

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._host: Host | None = None

    async def open(self, host: Host) -> None:
        self._settings, self._host = host.settings, host

    async def run(self, ctx: RunContext, input: dict[str, Any]) -> None:
        """One turn for the user message in ``input`` (Mix's send-message body)."""
        from sessionhub.kinds.agent.loop import Agent, TurnOptions

        if self._settings is None or self._host is None:
            raise RuntimeError("the agent driver was not configured by the server")
        agent = Agent(self._settings, self._host, ctx.session, ctx.append, ctx.append)
        options = TurnOptions(max_steps=input.get("max_steps"),
                              thinking_level=input.get("thinking_level"),
                              plan_mode=bool(input.get("plan_mode")))  # fmt: skip
        await agent.turn(str(input.get("text", "")), options)
