"""The Mix stream's merge of stored events and live reply frames, position by position."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sessionhub.api.dialects.mix.stream import Merge, Position
from sessionhub.core.bus import CaughtUp, LiveMessages
from sessionhub.domain.models import Event

REPLY = {"assistantMessageId": "r", "content": "abcdef", "toolCalls": []}


def live(*numbers: int, reply: str = "r") -> LiveMessages:
    frames = [{"frame": "content", "reply": reply, "n": n,
               "data": {"type": "content", "content": f"<{n}>", "assistantMessageId": reply}}
              for n in numbers]  # fmt: skip
    return LiveMessages(tuple(frames), 0)


def stored(seq: int, type: str = "mix.reply", payload: dict[str, Any] = REPLY) -> Event:
    return Event(id=f"e{seq}", session_id="s", seq=seq, type=type, payload=payload,
                 created_at=datetime.now(UTC))  # fmt: skip


def shown(merge: Merge, *items: Any) -> list[tuple[str, str, dict[str, Any]]]:
    return [(str(sse.id), str(sse.event), json.loads(str(sse.data)))
            for item in items for sse in merge.take(item)]  # fmt: skip


def test_live_frames_are_numbered_after_the_last_stored_event_then_acknowledged() -> None:
    out = shown(Merge(Position(4)), live(1, 2), CaughtUp(), live(2, 3), stored(5))
    assert [(i, d.get("content")) for i, _, d in out] == [
        ("4.1", "<1>"), ("4.2", "<2>"), ("4.3", "<3>"), ("5", None)]  # fmt: skip
    assert out[-1][1] == "heartbeat"  # the stored reply, seen live: nothing repeated


def test_a_resumed_reply_continues_after_the_frames_the_client_has() -> None:
    out = shown(Merge(Position(4, 2)), live(1, 2, 3, 4), CaughtUp(), stored(5))
    assert [i for i, _, _ in out] == ["4.3", "4.4", "5"]


def test_a_resumed_reply_already_stored_comes_whole_once_and_marked() -> None:
    merge = Merge(Position(4, 2))
    out = shown(merge, stored(5), live(1, reply="next"), CaughtUp())  # the next, from its start
    assert out[0] == ("5", "content", {"type": "content", "content": "abcdef",
                                       "assistantMessageId": "r", "replayed": True})  # fmt: skip
    assert out[1][0] == "5.1" and "replayed" not in out[1][2]


def test_a_gap_in_the_live_frames_waits_for_the_stored_reply() -> None:
    out = shown(Merge(Position(4)), live(1, 3), CaughtUp(), stored(5))
    assert [(i, e) for i, e, _ in out] == [("4.1", "content"), ("5", "content")]
    assert out[-1][2]["replayed"] is True and out[-1][2]["content"] == "abcdef"


def test_a_stored_reply_never_seen_live_is_not_marked() -> None:
    reply = {**REPLY, "reasoning": "hmm"}
    out = shown(Merge(Position(4)), stored(5, payload=reply))
    assert [(i, e) for i, e, _ in out] == [("4.1", "thinking"), ("5", "content")]
    assert not any("replayed" in d for _, _, d in out)
