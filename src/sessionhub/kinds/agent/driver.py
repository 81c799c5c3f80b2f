"""The ``agent`` driver: an LLM loop with Mix's tools, in the session's directory."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sessionhub.config import Settings
from sessionhub.core.ports import Capability, Driver, Host, RunContext
from sessionhub.domain.models import Event, Session
from sessionhub.kinds.agent import rules
from sessionhub.kinds.agent.live import LiveReplies
from sessionhub.kinds.agent.loop import Agent, TurnOptions


class AgentDriver(Driver):
    kind = "agent"
    capabilities = frozenset(
        {Capability.fork, Capability.rewind, Capability.runs, Capability.cancel}
    )

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._host: Host | None = None
        self.replies = LiveReplies()  # the replies in progress, for the Mix stream's reconnects

    @property
    def host(self) -> Host:
        if self._host is None:
            raise RuntimeError("the agent driver was not configured by the server")
        return self._host

    async def open(self, host: Host) -> None:
        self._settings, self._host = host.settings, host

    async def on_delete(self, session: Session) -> None:
        self.replies.forget(session.id)

    async def before_run(self, session: Session, input: dict[str, Any]) -> None:
        """A run with bad input is refused before it is recorded (a 400, not a failed run)."""
        rules.run_input(input)

    async def run(self, ctx: RunContext, input: dict[str, Any]) -> None:
        """One turn for the user message in ``input`` (Mix's send-message body)."""
        turn = rules.run_input(input)
        if self._settings is None:
            raise RuntimeError("the agent driver was not configured by the server")
        agent = Agent(
            self._settings, self.host, ctx.session, ctx.append, ctx.append, replies=self.replies
        )
        options = TurnOptions(max_steps=turn.max_steps, thinking_level=turn.thinking_level,
                              plan_mode=turn.plan_mode)  # fmt: skip
        await agent.turn(turn.text, options)

    async def message_event(self, session: Session, index: int) -> str | None:
        return rules.event_at_message(await self.host.all_events(session), index)

    def fork_payloads(self, copied: Sequence[Event]) -> Mapping[int, dict[str, Any]]:
        """A fork's messages are new messages: new ids, references following them."""
        return rules.renumbered_messages(copied)
