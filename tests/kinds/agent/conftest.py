"""An agent transcript to fork and rewind: two turns, the first with a tool call."""

from __future__ import annotations

from typing import Any

TRANSCRIPT: list[dict[str, Any]] = [
    {"type": "message", "role": "user", "payload": {"id": "u1", "content": "one"}},
    {"type": "message", "role": "assistant",
     "payload": {"id": "a1", "content": "", "toolCalls": [{"id": "c1", "name": "Bash"}]}},
    {"type": "tool_call", "payload": {"id": "c1", "name": "Bash", "messageId": "a1"}},
    {"type": "tool_result", "role": "tool",
     "payload": {"toolCallId": "c1", "result": "ok", "messageId": "a1"}},
    {"type": "message", "role": "assistant", "payload": {"id": "a2", "content": "done"}},
    {"type": "message", "role": "user", "payload": {"id": "u2", "content": "two"}},
    {"type": "message", "role": "assistant", "payload": {"id": "a3", "content": "again"}},
]  # fmt: skip
