"""How an agent session's transcript is stored as events (shared by the driver and Mix).

* ``message`` (role user/assistant): ``{id, content, reasoning?, reasoningDuration?,
  toolCalls?: [{id, name, input}], model?, finishReason?, cancelled?, excludeFromContext?}``
* ``tool_call``: ``{id, name, input, messageId}`` — one per call, counted in totals
* ``tool_result`` (role tool): ``{toolCallId, name, result, isError, messageId}``
* ``callback_result``: Mix's ``CallbackResultData`` (snake_case) plus ``messageId``
* ``turn.cancelled``: ``{messageId}`` — the turn was cancelled after that message
* ``mix.<event>``: one frame of the live stream (Mix's 16 SSE event names), kept so
  a reconnecting client can replay what it missed — except the frames of a model
  reply while it arrives (``LIVE``: thinking, content and tool-call deltas), which
  go to the event bus only (``{"frame", "data", "reply", "n"}``, ``n`` the frame's
  number in its reply, from 1; ``live.py`` keeps the reply's frames so far for
  clients that reconnect), and are stored once the reply ends as one
* ``mix.reply``: ``{assistantMessageId, reasoning, content, toolCalls: [{id, name,
  input}], parentToolCallId?}`` — the whole reply, which the stream expands into
  one frame of each kind for a client that did not see it live.
"""

from __future__ import annotations

MESSAGE = "message"
TOOL_CALL = "tool_call"
TOOL_RESULT = "tool_result"
CALLBACK_RESULT = "callback_result"
CANCELLED = "turn.cancelled"
STREAM_PREFIX = "mix."
REPLY = "mix.reply"
LIVE = frozenset({"thinking", "content", "tool_use_start", "tool_use_parameter_delta",
                  "tool_use_parameter_streaming_complete"})  # fmt: skip


def stream_type(name: str) -> str:
    return STREAM_PREFIX + name
