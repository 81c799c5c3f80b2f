"""The stored transcript → OpenAI chat messages (the model's context)."""

from __future__ import annotations

from typing import Any

from sessionhub.domain.models import Event
from sessionhub.kinds.agent import transcript


def openai_messages(events: list[Event]) -> list[dict[str, Any]]:
    """Tool results follow their assistant message; callback notes come after them."""
    out: list[dict[str, Any]] = []
    notes: list[str] = []
    for event in events:
        p = event.payload
        if event.type == transcript.MESSAGE and event.role is not None:
            out.extend({"role": "user", "content": n} for n in notes)
            notes = []
            if event.role.value != "assistant" or p.get("content") or p.get("toolCalls"):
                out.append(message(event.role.value, p))  # not an empty, cancelled reply
        elif event.type == transcript.TOOL_RESULT:
            out.append({"role": "tool", "tool_call_id": p.get("toolCallId", ""),
                        "content": str(p.get("result", ""))})  # fmt: skip
        elif event.type == transcript.CALLBACK_RESULT and counts_in_context(p):
            notes.append(callback_note(p))
    out.extend({"role": "user", "content": n} for n in notes)
    return out


def counts_in_context(p: dict[str, Any]) -> bool:
    """Excluded callbacks stay out; send_message already became a user message."""
    return not p.get("exclude_from_context") and p.get("callback_type") != "send_message"


def message(role: str, p: dict[str, Any]) -> dict[str, Any]:
    if role != "assistant":
        return {"role": "user", "content": str(p.get("content", ""))}
    msg: dict[str, Any] = {"role": "assistant", "content": str(p.get("content", "")) or None}
    calls = p.get("toolCalls") or []
    if calls:
        msg["tool_calls"] = [
            {"id": c["id"], "type": "function",
             "function": {"name": c["name"], "arguments": c.get("input") or "{}"}}
            for c in calls
        ]  # fmt: skip
    return msg


def callback_note(p: dict[str, Any]) -> str:
    body = p.get("stdout") or p.get("subagent_result") or p.get("error") or ""
    return (
        f"[callback {p.get('callback_name') or p.get('callback_type')} after "
        f"{p.get('tool_name')}]\n{body}"
    )
