"""Session callbacks, run after each tool completion whose name matches (or ``*``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sessionhub.domain.models import EventCreate, without_nul
from sessionhub.kinds.agent import transcript
from sessionhub.kinds.agent.provider import Call
from sessionhub.kinds.agent.tools import Outcome, run_shell, truncate

if TYPE_CHECKING:
    from sessionhub.kinds.agent.loop import Agent


def matching(agent: Agent, tool_name: str) -> list[dict[str, Any]]:
    found = agent.session.attributes.get("callbacks") or []
    return [cb for cb in found if cb.get("toolName") in (tool_name, "*")]


async def run_callbacks(agent: Agent, call: Call, outcome: Outcome, message_id: str) -> None:
    for number, cb in enumerate(matching(agent, call.name), 1):
        base: dict[str, Any] = {
            "tool_call_id": call.id, "tool_name": call.name, "callback_type": cb["type"],
            "callback_name": cb.get("name") or f"Callback #{number:04d}",
            "exclude_from_context": bool(cb.get("excludeFromContext")), "messageId": message_id,
        }  # fmt: skip
        result = await run_one(agent, cb, call, outcome)
        await agent.record([EventCreate(type=transcript.CALLBACK_RESULT,
                                        payload=without_nul({**base, **result}))])  # fmt: skip
        if cb["type"] == "send_message":  # sent once every call of the reply has its result
            agent.injections.append(str(cb.get("messageContent", "")))


async def run_one(agent: Agent, cb: dict[str, Any], call: Call, outcome: Outcome) -> dict[str, Any]:
    if cb["type"] == "bash_script":
        return await bash_script(agent, cb, call, outcome)
    if cb["type"] == "sub_agent":
        text = f"{cb.get('subAgentPrompt', '')}\n\nTool context:\n" + json.dumps(
            {"tool": call.name, "input": call.input, "result": outcome.text}
        )
        answer, _ = await agent.subagent(call.id, cb.get("name") or "Callback subagent", text)
        return {"success": True, "subagent_result": answer}
    return {"success": True}


async def bash_script(
    agent: Agent, cb: dict[str, Any], call: Call, outcome: Outcome
) -> dict[str, Any]:
    env = {"CALLBACK_TOOL_RESULT": outcome.text[:100_000], "CALLBACK_TOOL_NAME": call.name,
           "CALLBACK_TOOL_ID": call.id, "CALLBACK_SESSION_ID": agent.session.id}  # fmt: skip
    timeout = int(cb.get("bashTimeout") or 120_000) / 1000
    code, out, err = await run_shell(str(cb.get("bashCommand", "")), agent.directory, timeout, env)
    return {"success": code == 0, "stdout": truncate(out), "stderr": truncate(err),
            "exit_code": -1 if code is None else code,
            **({"error": err.strip() or f"exit code {code}"} if code != 0 else {})}  # fmt: skip
