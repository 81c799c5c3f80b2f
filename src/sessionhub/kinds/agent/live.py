"""The frames of each session's model reply in progress, kept for clients that (re)connect.

A reply's frames (token deltas, tool-call arguments as they stream) go to the event
bus only, which reaches the listeners of that moment; the reply is stored whole once
it ends. A client that connects or reconnects while the reply is still arriving has
missed its first frames, so the driver keeps them here, numbered from 1, until the
stored reply takes over. This process only: a client served by another process gets
the stored reply instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FRAME_LIMIT = 10_000  # kept per reply; later ones reach live listeners only


@dataclass
class LiveReply:
    id: str
    frames: list[dict[str, Any]] = field(default_factory=list)


class LiveReplies:
    """Per session (whose stream shows the reply), the reply arriving and its frames so far.

    A bus message is ``{"frame", "data", "reply", "n"}``: Mix's event name, its data,
    the reply's id and the frame's number in that reply (from 1).
    """

    def __init__(self) -> None:
        self._replies: dict[str, LiveReply] = {}

    def add(self, session_id: str, message: dict[str, Any]) -> None:
        current = self._replies.get(session_id)
        if current is None or current.id != message["reply"]:
            current = self._replies[session_id] = LiveReply(message["reply"])
        if len(current.frames) < FRAME_LIMIT:
            current.frames.append(message)

    def frames(self, session_id: str) -> list[dict[str, Any]]:
        """The frames so far of the session's reply in progress (none when there is none)."""
        current = self._replies.get(session_id)
        return list(current.frames) if current is not None else []

    def end(self, session_id: str, reply_id: str) -> None:
        """The reply is stored: its frames are the stored reply's business now."""
        current = self._replies.get(session_id)
        if current is not None and current.id == reply_id:
            del self._replies[session_id]

    def forget(self, session_id: str) -> None:
        """The session is gone."""
        self._replies.pop(session_id, None)
