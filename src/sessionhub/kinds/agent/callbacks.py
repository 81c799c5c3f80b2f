"""Session callbacks, run after each tool completion whose name matches (or ``*``)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from sessionhub.core.ports import Host
from sessionhub.domain.attributes.agent import AgentAttributes, AgentCallback
from sessionhub.domain.models import Event, EventCreate, Session, without_nul
from sessionhub.kinds.agent import transcript
from sessionhub.kinds.agent.provider import Call
from sessionhub.kinds.agent.tools import Outcome, ToolError, run_shell, truncate


class CallbackRunner(Protocol):
    """What running a callback needs of the agent whose tool call it follows."""

    session: Session
    injections: list[str]
    host: Host

    @property
    def directory(self) -> Path: ...

    @property
    def record(self) -> Callable[[Sequence[EventCreate]], Awaitable[list[Event]]]: ...

    async def subagent(self, call_id: str, title: str, text: str) -> tuple[str, float]: ...


def matching(session: Session, tool_name: str) -> list[AgentCallback]:
    found = AgentAttributes.of(session).callbacks
    return [cb for cb in found if cb.tool_name in (tool_name, "*")]


async def run_callbacks(
    agent: CallbackRunner, call: Call, outcome: Outcome, message_id: str
) -> None:
    for number, cb in enumerate(matching(agent.session, call.name), 1):
        base: dict[str, Any] = {
            "tool_call_id": call.id, "tool_name": call.name, "callback_type": cb.type,
            "callback_name": cb.name or f"Callback #{number:04d}",
            "exclude_from_context": cb.exclude_from_context, "messageId": message_id,
        }  # fmt: skip
        result = await run_one(agent, cb, call, outcome)
        await agent.record([EventCreate(type=transcript.CALLBACK_RESULT,
                                        payload=without_nul({**base, **result}))])  # fmt: skip
        if cb.type == "send_message":  # sent once every call of the reply has its result
            agent.injections.append(cb.message_content or "")


async def run_one(
    agent: CallbackRunner, cb: AgentCallback, call: Call, outcome: Outcome
) -> dict[str, Any]:
    if cb.type == "bash_script":
        return await bash_script(agent, cb, call, outcome)
    if cb.type == "sub_agent":
        text = f"{cb.sub_agent_prompt or ''}\n\nTool context:\n" + json.dumps(
            {"tool": call.name, "input": call.input, "result": outcome.text}
        )
        answer, _ = await agent.subagent(call.id, cb.name or "Callback subagent", text)
        return {"success": True, "subagent_result": answer}
    return {"success": True}


async def bash_script(
    agent: CallbackRunner, cb: AgentCallback, call: Call, outcome: Outcome
) -> dict[str, Any]:
    env = {"CALLBACK_TOOL_RESULT": outcome.text[:100_000], "CALLBACK_TOOL_NAME": call.name,
           "CALLBACK_TOOL_ID": call.id, "CALLBACK_SESSION_ID": agent.session.id}  # fmt: skip
    timeout = cb.bash_timeout / 1000
    try:
        code, out, err = await run_shell(
            agent.host.sandbox, cb.bash_command or "", agent.directory, timeout, env
        )
    except ToolError as exc:  # no sandbox to run it in
        return {"success": False, "stdout": "", "stderr": str(exc), "exit_code": -1,
                "error": str(exc)}  # fmt: skip
    return {"success": code == 0, "stdout": truncate(out), "stderr": truncate(err),
            "exit_code": -1 if code is None else code,
            **({"error": err.strip() or f"exit code {code}"} if code != 0 else {})}  # fmt: skip
