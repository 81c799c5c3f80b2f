"""GET /stream?sessionId=: Mix's SSE stream, replayable with ``Last-Event-ID``.

Every frame carries ``id:`` (the seq of the last stored event it reflects, so a
reconnect resumes exactly), ``event:`` (one of Mix's 16 names) and a JSON
``data:`` object. Heartbeats are ``heartbeat`` events well inside the 30 s read
timeouts clients commonly use.

A model reply reaches a connection one of two ways, never both: live, as the
bus delivers its deltas (when the connection saw the reply's first frame), or
whole, expanded from its stored ``mix.reply`` event (when it joined mid-reply,
replays with ``Last-Event-ID``, or is served by another process). A reply seen
live is acknowledged with a heartbeat carrying the stored event's id.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query
from sse_starlette import EventSourceResponse, ServerSentEvent

from sessionhub.api.deps import Caller
from sessionhub.api.dialects.mix.common import MixCaller, load_session
from sessionhub.api.dialects.mix.errors import MixError
from sessionhub.core.bus import CaughtUp, LiveMessages
from sessionhub.core.service import Followed
from sessionhub.domain.models import Event
from sessionhub.kinds.agent import transcript

router = APIRouter()
EVENT_ID = re.compile(r"[0-9]+")


def frame(seq: int, name: str, data: object, retry: int = 30_000) -> ServerSentEvent:
    return ServerSentEvent(data=orjson.dumps(data).decode(), event=name, id=str(seq), retry=retry)


def heartbeat(seq: int) -> ServerSentEvent:
    return frame(seq, "heartbeat", {"type": "ping"}, retry=45_000)


def whole_reply(seq: int, p: dict[str, Any]) -> Iterator[ServerSentEvent]:
    """A stored reply as one frame of each kind: thinking, content, each tool call."""
    common = {"assistantMessageId": p.get("assistantMessageId")}
    if p.get("parentToolCallId"):
        common["parentToolCallId"] = p["parentToolCallId"]
    if p.get("reasoning"):
        yield frame(seq, "thinking", {"type": "thinking", "content": p["reasoning"], **common})
    if p.get("content"):
        yield frame(seq, "content", {"type": "content", "content": p["content"], **common})
    calls = p.get("toolCalls") or []
    for c in calls:
        yield frame(seq, "tool_use_start",
                    {"type": "tool_use_start", "id": c["id"], "name": c["name"], **common})  # fmt: skip
    for c in calls:  # as live: every call's arguments complete once the reply has ended
        yield frame(seq, "tool_use_parameter_streaming_complete", {
            "type": "tool_use_parameter_streaming_complete", "id": c["id"], "name": c["name"],
            "input": c.get("input") or "{}", **common})  # fmt: skip


class Merge:
    """One connection's merge of stored events and live reply frames, in order.

    ``SessionService.follow`` hands over live messages before any stored event
    written after them, so they are held until the stored events catch up: a
    reply's live frames all precede its ``mix.reply`` event and are shown when it
    comes up; the others when the follower has caught up.
    """

    def __init__(self, after: int) -> None:
        self.after = after
        self.live: dict[str, bool] = {}  # reply id → shown live (True) or whole (False)
        self.held: list[dict[str, Any]] = []
        self.dropped = 0

    def take(self, item: Followed) -> Iterator[ServerSentEvent]:
        if isinstance(item, Event):
            yield from self.stored(item)
        elif isinstance(item, LiveMessages):
            self.held.extend(item.messages)
            self.dropped = item.dropped
        elif isinstance(item, CaughtUp):
            yield from self.flush()
        else:
            yield heartbeat(self.after)

    def stored(self, event: Event) -> Iterator[ServerSentEvent]:
        if event.type == transcript.REPLY:
            yield from self.reply(event)
            return
        self.after = event.seq
        if event.type.startswith(transcript.STREAM_PREFIX):
            yield frame(event.seq, event.type[len(transcript.STREAM_PREFIX) :], event.payload)

    def reply(self, event: Event) -> Iterator[ServerSentEvent]:
        reply = str(event.payload.get("assistantMessageId", ""))
        mine = [m for m in self.held if m["reply"] == reply]
        self.held = [m for m in self.held if m["reply"] != reply]
        yield from self.pending(mine)  # still under the previous id
        self.after = event.seq
        if self.live.pop(reply, False) and not self.dropped:
            yield heartbeat(event.seq)
        else:
            yield from whole_reply(event.seq, event.payload)

    def flush(self) -> Iterator[ServerSentEvent]:
        held, self.held = self.held, []
        yield from self.pending(held)

    def pending(self, messages: list[dict[str, Any]]) -> Iterator[ServerSentEvent]:
        for m in messages:
            shown = self.live.setdefault(m["reply"], bool(m["first"]))
            if shown:
                yield frame(self.after, m["frame"], m["data"])


async def frames(caller: Caller, session_id: str, after: int) -> AsyncIterator[ServerSentEvent]:
    """``connected`` once subscribed, then stored events after ``after`` merged with
    live replies, and a heartbeat whenever the session stays quiet for a while."""
    merge = Merge(after)
    followed = caller.service.follow(
        caller.workspace_id, session_id, after=after, live=True,
        idle=caller.hub.settings.heartbeat_interval,
    )  # fmt: skip
    async with aclosing(followed):
        first = await anext(followed)  # the follower has subscribed: nothing live is missed
        yield frame(after, "connected", {"sessionId": session_id})
        for sse in merge.take(first):
            yield sse
        async for item in followed:
            for sse in merge.take(item):
                yield sse


@router.get("/stream")
async def stream_events(
    caller: MixCaller,
    session_id: Annotated[str, Query(alias="sessionId")] = "",
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    if not session_id:
        raise MixError("sessionId is required")
    session = await load_session(caller, session_id)
    after = session.last_seq
    if last_event_id:
        if not EVENT_ID.fullmatch(last_event_id):  # ASCII digits (str.isdigit takes "²")
            raise MixError("Last-Event-ID must be an id this stream sent")
        digits = last_event_id.lstrip("0") or "0"
        if len(digits) <= len(str(session.last_seq)):  # longer: past anything sent yet
            after = min(int(digits), session.last_seq)
    return EventSourceResponse(
        frames(caller, session_id, after), headers={"Cache-Control": "no-cache"}
    )
