"""sessionhub sessions and events → Mix's wire objects."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sessionhub.domain.attributes.agent import AgentAttributes
from sessionhub.domain.models import Event, Session
from sessionhub.kinds.agent import transcript

# Returned when stored and not empty (Mix leaves them out otherwise).
OPTIONAL_FIELDS = {"callbacks", "cdp_url", "first_user_message", "parent_tool_call_id",
                   "subagent_type"}  # fmt: skip


def rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def session_data(session: Session) -> dict[str, Any]:
    attrs = AgentAttributes.of(session)
    totals = session.totals
    data: dict[str, Any] = {
        "id": session.id,
        "title": session.title or "",
        "browserMode": attrs.browser_mode,
        "sessionType": attrs.session_type,
        "userMessageCount": totals.by_role.get("user", 0),
        "assistantMessageCount": totals.by_role.get("assistant", 0),
        "toolCallCount": totals.tool_calls,
        "promptTokens": totals.input_tokens,
        "completionTokens": totals.output_tokens,
        "cost": totals.cost,
        "createdAt": rfc3339(session.created_at),
    }
    stored = attrs.model_dump(by_alias=True, include=OPTIONAL_FIELDS, exclude_unset=True)
    data.update((key, value) for key, value in stored.items() if value not in (None, ""))
    parent = session.parent_id or session.forked_from
    if parent:
        data["parentSessionId"] = parent
    return data


def messages(session_id: str, events: list[Event]) -> list[dict[str, Any]]:
    """BackendMessages: tool results and callback results folded into their message."""
    out: list[dict[str, Any]] = []
    calls: dict[str, dict[str, Any]] = {}
    owner: dict[str, dict[str, Any]] = {}
    for event in events:
        p = event.payload
        if event.type == transcript.MESSAGE and event.role is not None:
            msg = backend_message(session_id, event)
            out.append(msg)
            for call in msg.get("toolCalls", []):
                calls[call["id"]] = call
                owner[call["id"]] = msg
        elif event.type == transcript.TOOL_RESULT and p.get("toolCallId") in calls:
            call = calls[p["toolCallId"]]
            call.update(finished=True, result=p.get("result", ""), isError=p.get("isError", False))
        elif event.type == transcript.CALLBACK_RESULT and p.get("tool_call_id") in owner:
            owner[p["tool_call_id"]].setdefault("callbackResults", []).append(callback_result(p))
        elif event.type == transcript.CANCELLED:
            for msg in out:
                if msg["id"] == p.get("messageId"):
                    msg.update(cancelled=True, finishReason="cancelled")
    return out


def backend_message(session_id: str, event: Event) -> dict[str, Any]:
    p = event.payload
    role = event.role.value if event.role is not None else "user"
    text = str(p.get("content", ""))
    msg: dict[str, Any] = {"id": p.get("id", event.id), "role": role, "sessionId": session_id,
                           "userInput": text, "createdAt": rfc3339(event.created_at)}  # fmt: skip
    if role != "user":
        msg["assistantResponse"] = text
        msg["inputTokens"] = event.input_tokens
        msg["outputTokens"] = event.output_tokens
        msg["cost"] = event.cost
    for key in ("reasoning", "reasoningDuration", "model", "finishReason", "cancelled"):
        if p.get(key) not in (None, ""):
            msg[key] = p[key]
    if p.get("toolCalls"):
        msg["toolCalls"] = [tool_call(c) for c in p["toolCalls"]]
    return msg


def tool_call(call: dict[str, Any]) -> dict[str, Any]:
    return {"id": call["id"], "name": call["name"], "input": call.get("input", "{}"),
            "type": "function", "finished": False}  # fmt: skip


def callback_result(p: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in p.items() if k != "messageId"}


def export(session: Session, events: list[Event]) -> dict[str, Any]:
    data = session_data(session)
    out: list[dict[str, Any]] = []
    for msg in messages(session.id, events):
        item: dict[str, Any] = {
            "id": msg["id"], "role": msg["role"], "content": msg["userInput"],
            "createdAt": msg["createdAt"], "updatedAt": msg["createdAt"],
        }  # fmt: skip
        for key in ("reasoning", "reasoningDuration", "model", "finishReason"):
            if key in msg:
                item[key] = msg[key]
        if "toolCalls" in msg:
            item["toolCalls"] = msg["toolCalls"]
        out.append(item)
    counters = ("userMessageCount", "assistantMessageCount", "toolCallCount", "promptTokens",
                "completionTokens", "cost", "createdAt")  # fmt: skip
    return {"id": session.id, "title": data["title"], "messages": out,
            **{k: data[k] for k in counters}, "updatedAt": rfc3339(session.updated_at)}  # fmt: skip
