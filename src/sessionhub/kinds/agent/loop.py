"""One agent turn: user message → model ⇄ tools (and callbacks) → complete or error.

The transcript goes to the session's own events; stream frames (``mix.*``) go to
the stream session — the session itself, or for a subagent its parent, tagged
with the parent's Task tool call id.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openai import AsyncOpenAI

from sessionhub.config import Settings
from sessionhub.core.ports import Host
from sessionhub.domain.attributes.agent import AgentAttributes
from sessionhub.domain.models import Event, EventCreate, Role, Session, SessionCreate, without_nul
from sessionhub.kinds.agent import prompt, toolbox, tools, transcript
from sessionhub.kinds.agent.callbacks import run_callbacks
from sessionhub.kinds.agent.history import openai_messages
from sessionhub.kinds.agent.live import LiveReplies
from sessionhub.kinds.agent.provider import Call, Reply, Request, ask, describe

Append = Callable[[Sequence[EventCreate]], Awaitable[list[Event]]]


# Mix's thinking levels → the OpenAI ``reasoning_effort`` a request carries ("off": none).
REASONING_EFFORT = {"basic": "low", "medium": "medium", "maximum": "high"}


@dataclass(frozen=True)
class TurnOptions:
    """What a send-message body asks of the turn besides its text."""

    max_steps: int | None = None
    thinking_level: str | None = None
    plan_mode: bool = False


def new_id() -> str:
    return str(uuid.uuid4())


def stream_event(name: str, data: dict[str, Any]) -> EventCreate:
    return EventCreate(type=transcript.stream_type(name), payload=without_nul(data))


@dataclass
class Agent:
    settings: Settings
    host: Host
    session: Session
    record: Append
    stream: Append
    parent_call: str | None = None
    stream_session: str = ""  # whose stream shows this agent's frames (a subagent's parent)
    replies: LiveReplies = field(default_factory=LiveReplies)  # the driver's, for reconnects
    live_reply: str = ""  # the reply whose live frames have started
    live_frames: int = 0  # how many of its frames were published
    pending: list[Call] = field(default_factory=list)
    partial: Reply | None = None  # the reply still arriving
    unsaved: Reply | None = None  # a finished reply whose message is not yet recorded
    current: str = ""
    injections: list[str] = field(default_factory=list)
    plan_mode: bool = False  # mutating tools refused until ExitPlanMode
    llm: AsyncOpenAI | None = None

    @property
    def attributes(self) -> AgentAttributes:
        return AgentAttributes.of(self.session)

    @property
    def directory(self) -> Path:
        return self.host.directory(self.session)

    def __post_init__(self) -> None:
        self.stream_session = self.stream_session or self.session.id

    async def emit(self, name: str, data: dict[str, Any]) -> None:
        if self.parent_call is not None:
            data = {**data, "parentToolCallId": self.parent_call}
        if name in transcript.LIVE:
            self.publish(name, data)
        else:
            await self.stream([stream_event(name, data)])

    def publish(self, name: str, data: dict[str, Any]) -> None:
        """A reply's frame as it arrives, numbered in its reply: to live listeners and
        the kept frames of the reply in progress (``reply_done`` stores it whole)."""
        reply = str(data.get("assistantMessageId", ""))
        if reply != self.live_reply:
            self.live_reply, self.live_frames = reply, 0
        self.live_frames += 1
        message = {"frame": name, "data": data, "reply": reply, "n": self.live_frames}
        self.replies.add(self.stream_session, message)
        self.host.publish(self.stream_session, message)

    async def reply_done(self, reply: Reply) -> None:
        """The whole reply on the stream's durable record, for clients that missed it live."""
        data: dict[str, Any] = {
            "assistantMessageId": reply.id, "reasoning": reply.reasoning,
            "content": reply.content,
            "toolCalls": [{"id": c.id, "name": c.name, "input": c.input or "{}"}
                          for c in reply.calls],
        }  # fmt: skip
        if self.parent_call is not None:
            data["parentToolCallId"] = self.parent_call
        try:
            await self.stream([EventCreate(type=transcript.REPLY, payload=without_nul(data))])
        finally:
            self.replies.end(self.stream_session, reply.id)

    async def turn(self, text: str, options: TurnOptions) -> str:
        """Run the turn; the final answer is returned (and ends the stream's turn)."""
        await self.user_message(text)
        problem = self.missing_setting()
        if problem is not None:
            await self.emit("error", {"type": "configuration_error", "error": problem})
            return ""
        reply: Reply | None = None
        from openai import APIError  # late: ~0.6 s of import the server's start skips

        try:
            self.plan_mode = options.plan_mode
            async with self.client() as client:
                self.llm = client
                reply = await self.steps(client, options)
        except asyncio.CancelledError:
            await self.cancelled()
            raise
        except APIError as exc:
            await self.emit("error", {"type": "provider_error", "error": f"LLM provider: {exc}"})
            return ""
        await self.emit("complete", {"type": "complete", "done": True, "content": reply.content,
                                     "messageId": reply.id, "reasoning": reply.reasoning or None,
                                     "reasoningDuration": reply.reasoning_ms or None})  # fmt: skip
        return reply.content

    def missing_setting(self) -> str | None:
        for name in ("agent_base_url", "agent_model"):
            if not getattr(self.settings, name):
                return (f"no LLM provider is configured: set SESSIONHUB_{name.upper()} "
                        "(and SESSIONHUB_AGENT_API_KEY if the provider needs one)")  # fmt: skip
        return None

    def client(self) -> AsyncOpenAI:
        from openai import AsyncOpenAI

        key = self.settings.agent_api_key
        return AsyncOpenAI(
            base_url=self.settings.agent_base_url, api_key=key or "sessionhub", max_retries=0,
            timeout=self.settings.agent_timeout,
        )  # fmt: skip

    async def user_message(self, text: str, *, injected: bool = False) -> None:
        mid = new_id()
        await self.record([EventCreate(type=transcript.MESSAGE, role=Role.user,
                                       payload={"id": mid, "content": text, "injected": injected})])  # fmt: skip
        await self.emit(
            "user_message_created",
            {"type": "user_message_created", "messageId": mid, "content": text},
        )
        if not self.attributes.first_user_message:
            first = AgentAttributes(first_user_message=text[:500])
            self.session = await self.host.set_attributes(self.session, first.stored())

    async def steps(self, client: AsyncOpenAI, options: TurnOptions) -> Reply:
        limit = options.max_steps or self.settings.agent_max_steps
        effort = REASONING_EFFORT.get(options.thinking_level or "")
        for _ in range(limit):
            request = Request(self.settings.agent_model or "", await self.context(), toolbox.SPECS,
                              stream=self.settings.agent_stream, reasoning_effort=effort)  # fmt: skip
            reply = Reply(id=new_id())
            self.partial = reply
            await ask(client, request, reply, self.emit)
            await self.settle(reply)
            if not reply.calls:
                return reply
            for call in reply.calls:
                await self.tool(call, reply.id)
            while self.injections:
                await self.user_message(self.injections.pop(0), injected=True)
        return reply

    async def settle(self, reply: Reply) -> None:
        """Store a finished reply. An append, once awaited, is written even if the turn is
        cancelled meanwhile, so the state ``cancelled`` reads moves before each append."""
        self.partial, self.unsaved, self.current = None, reply, reply.id
        await self.reply_done(reply)
        self.unsaved, self.pending = None, list(reply.calls)
        await self.assistant_message(reply)

    async def assistant_message(self, reply: Reply, *, cancelled: bool = False) -> None:
        payload: dict[str, Any] = {
            "id": reply.id, "content": reply.content, "model": self.settings.agent_model,
            "finishReason": "cancelled" if cancelled else reply.finish,
            "toolCalls": [{"id": c.id, "name": c.name, "input": c.input or "{}"}
                          for c in reply.calls],
        }  # fmt: skip
        if reply.reasoning:
            payload.update(reasoning=reply.reasoning, reasoningDuration=reply.reasoning_ms)
        if cancelled:
            payload["cancelled"] = True
        await self.record([EventCreate(
            type=transcript.MESSAGE, role=Role.assistant, payload=without_nul(payload),
            input_tokens=reply.input_tokens, output_tokens=reply.output_tokens, cost=reply.cost,
        )])  # fmt: skip

    async def tool(self, call: Call, message_id: str) -> None:
        await self.record([EventCreate(type=transcript.TOOL_CALL, payload=without_nul({
            "id": call.id, "name": call.name, "input": call.input, "messageId": message_id}))])  # fmt: skip
        await self.emit("tool_execution_start", {"type": "tool_execution_start",
                        "toolCallId": call.id, "toolName": call.name, "progress": "running"})  # fmt: skip
        outcome = await self.execute(call)
        self.pending.remove(call)  # its result is written from here on, cancelled or not
        await self.record([EventCreate(
            type=transcript.TOOL_RESULT, role=Role.tool, cost=outcome.cost,
            payload=without_nul({"toolCallId": call.id, "name": call.name,
                                 "result": outcome.text, "isError": outcome.is_error,
                                 "messageId": message_id}))])  # fmt: skip
        await self.emit("tool_execution_complete", {"type": "tool_execution_complete",
                        "toolCallId": call.id, "toolName": call.name, "progress": "done",
                        "success": not outcome.is_error})  # fmt: skip
        await run_callbacks(self, call, outcome, message_id)

    async def execute(self, call: Call) -> tools.Outcome:
        try:
            args = json.loads(call.input or "{}")
            if not isinstance(args, dict):
                raise tools.ToolError("arguments must be a JSON object")
            if self.plan_mode and call.name in toolbox.MUTATING:
                return toolbox.plan_refusal(call.name)
            if call.name == "Task":
                return await self.task(call, args)
            if call.name == "TodoWrite":
                return await self.todos(args)
            if call.name == "ExitPlanMode":
                return self.exit_plan_mode(args)
            if call.name == "Bash":
                return await tools.bash(self.host.sandbox, self.directory, args)
            if call.name == "ReadMedia":
                return await toolbox.read_media(self.directory, args, self.describe)
            handler = toolbox.HANDLERS.get(call.name)
            if handler is None:
                raise tools.ToolError(f"unknown tool {call.name!r}")
            return await handler(self.directory, args)
        except json.JSONDecodeError as exc:
            return tools.Outcome(f"invalid JSON arguments: {exc}", is_error=True)
        except (tools.ToolError, OSError, ValueError) as exc:
            return tools.Outcome(str(exc), is_error=True)

    def exit_plan_mode(self, args: dict[str, Any]) -> tools.Outcome:
        outcome = toolbox.exit_plan_mode(args)
        self.plan_mode = False
        return outcome

    async def describe(self, text: str, data_url: str) -> tuple[str, float]:
        """ReadMedia's question about one image, to the session's provider."""
        if self.llm is None:
            raise tools.ToolError("no LLM provider is open for this turn")
        from openai import APIError

        try:
            return await describe(self.llm, self.settings.agent_model or "", text, data_url)
        except APIError as exc:
            raise tools.ToolError(f"the provider could not analyse the image: {exc}") from None

    async def todos(self, args: dict[str, Any]) -> tools.Outcome:
        todos = args.get("todos")
        if not isinstance(todos, list) or not all(isinstance(t, dict) for t in todos):
            raise tools.ToolError("todos must be a list of {id, content, status}")
        await self.host.set_attributes(self.session, AgentAttributes(todos=todos).stored())
        done = sum(1 for t in todos if t.get("status") == "completed")
        return tools.Outcome(f"Todo list updated: {len(todos)} items, {done} completed")

    async def task(self, call: Call, args: dict[str, Any]) -> tools.Outcome:
        text = args.get("prompt")
        if not isinstance(text, str) or not text:
            raise tools.ToolError("prompt is required")
        answer, cost = await self.subagent(call.id, str(args.get("description") or "Task"), text)
        return tools.Outcome(answer or "(the subagent gave no answer)", cost=cost)

    async def subagent(self, call_id: str, title: str, text: str) -> tuple[str, float]:
        """Run a general-purpose subagent to its answer; its cost rolls up into this session."""
        if self.attributes.is_subagent:
            raise tools.ToolError("a subagent cannot start another subagent")
        attributes = AgentAttributes(
            session_type="subagent", subagent_type="general-purpose", parent_tool_call_id=call_id,
            prompt_mode="default", custom_system_prompt="",
            browser_mode=self.attributes.browser_mode,
        )  # fmt: skip
        spec = SessionCreate(kind="agent", title=title[:200], parent_id=self.session.id,
                             attributes=attributes.stored())  # fmt: skip
        child = await self.host.create_child(self.session, spec)

        async def record(events: Sequence[EventCreate]) -> list[Event]:
            return await self.host.append(child, events)

        sub = Agent(self.settings, self.host, child, record, self.stream, replies=self.replies,
                    parent_call=call_id, stream_session=self.stream_session)  # fmt: skip
        answer = await sub.turn(text, TurnOptions())
        child = await self.host.get(child)
        return answer, child.totals.cost

    async def context(self) -> list[dict[str, Any]]:
        system = prompt.system_prompt(self.attributes, self.settings.agent_prompt_variables)
        if self.plan_mode:
            system = f"{system}\n\n{toolbox.PLAN_PROMPT}"
        page = await self.host.events(self.session, after=0, limit=100_000)
        return [{"role": "system", "content": system}, *openai_messages(page.items)]

    async def cancelled(self) -> None:
        """Keep the transcript consistent: the partial message, results for pending calls."""
        partial, self.partial = self.partial, None
        unsaved, self.unsaved = self.unsaved, None
        if partial is not None:
            await self.reply_done(partial)
        reply = partial or unsaved
        if reply is not None:
            self.pending = list(reply.calls)
            await self.assistant_message(reply, cancelled=True)
        message_id = reply.id if reply is not None else self.current
        events = [EventCreate(type=transcript.TOOL_RESULT, role=Role.tool, payload={
            "toolCallId": c.id, "name": c.name, "result": "cancelled", "isError": True,
            "messageId": message_id}) for c in self.pending]  # fmt: skip
        events.append(EventCreate(type=transcript.CANCELLED, payload={"messageId": message_id}))
        await self.record(events)
        await self.emit("error", {"type": "cancelled", "error": "the turn was cancelled"})
