"""GET /stream?sessionId=: Mix's SSE stream, resumable with ``Last-Event-ID``.

Every frame carries ``id:`` (its position, below), ``event:`` (one of Mix's 16
names) and a JSON ``data:`` object. Heartbeats are ``heartbeat`` events well
inside the 30 s read timeouts clients commonly use, and carry the position of the
last frame sent.

Positions: a frame of a stored event is ``<seq>``; the n-th live frame of a model
reply is ``<seq>.<n>``, ``seq`` being the last stored event shown before it. A
client that reconnects with ``Last-Event-ID: <seq>.<n>`` gets the stored events
after ``seq`` and, of the first reply after it, the frames after its n-th: from
the frames this process keeps of the reply in progress, or, where they are gone
(the reply was stored meanwhile, or another process served it), the stored reply
whole, once, each of its frames marked ``"replayed": true`` so the client can
replace what it showed.

A model reply reaches a connection one of two ways, never both: live, frame by
frame, or whole, expanded from its stored ``mix.reply`` event (when the
connection misses one of its frames, replays with ``Last-Event-ID``, or is served
by another process). A reply seen live is acknowledged with a heartbeat carrying
the stored event's id. A whole reply's frames number on from what the client has
of it (``<seq before>.<n>``); its last one is ``<seq>``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query
from sse_starlette import EventSourceResponse, ServerSentEvent

from sessionhub.api.deps import Caller
from sessionhub.api.dialects.mix.common import KIND, MixCaller, load_session
from sessionhub.api.dialects.mix.errors import MixError
from sessionhub.core.bus import CaughtUp, LiveMessages
from sessionhub.core.service import Followed
from sessionhub.domain.models import Event, Session
from sessionhub.kinds.agent import transcript
from sessionhub.kinds.agent.driver import AgentDriver
from sessionhub.kinds.agent.live import LiveReplies

router = APIRouter()
EVENT_ID = re.compile(r"([0-9]+)(?:\.([0-9]{1,9}))?")


@dataclass(frozen=True)
class Position:
    """Where a client is: stored events through ``seq``, and ``frames`` live frames of
    the first reply after it."""

    seq: int
    frames: int = 0

    def __str__(self) -> str:
        return f"{self.seq}.{self.frames}" if self.frames else str(self.seq)


def frame(at: Position, name: str, data: object, retry: int = 30_000) -> ServerSentEvent:
    return ServerSentEvent(data=orjson.dumps(data).decode(), event=name, id=str(at), retry=retry)


def heartbeat(at: Position) -> ServerSentEvent:
    return frame(at, "heartbeat", {"type": "ping"}, retry=45_000)


def reply_frames(p: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """A stored reply as one frame of each kind: thinking, content, each tool call."""
    common = {"assistantMessageId": p.get("assistantMessageId")}
    if p.get("parentToolCallId"):
        common["parentToolCallId"] = p["parentToolCallId"]
    if p.get("reasoning"):
        yield "thinking", {"type": "thinking", "content": p["reasoning"], **common}
    if p.get("content"):
        yield "content", {"type": "content", "content": p["content"], **common}
    calls = p.get("toolCalls") or []
    for c in calls:
        yield "tool_use_start", {"type": "tool_use_start", "id": c["id"], "name": c["name"],
                                 **common}  # fmt: skip
    for c in calls:  # as live: every call's arguments complete once the reply has ended
        yield "tool_use_parameter_streaming_complete", {
            "type": "tool_use_parameter_streaming_complete", "id": c["id"], "name": c["name"],
            "input": c.get("input") or "{}", **common}  # fmt: skip


@dataclass
class ReplyView:
    """What a connection has given of one reply live: frames 1..shown, or a gap."""

    shown: int = 0  # given here, or by the connection the client resumes
    live: bool = False  # this process had the reply's frames
    broken: bool = False  # a frame went missing: the stored reply is shown whole

    @property
    def complete(self) -> bool:
        """Once the reply is stored: the client has every frame of it."""
        return self.live and self.shown > 0 and not self.broken


class Merge:
    """One connection's merge of stored events and live reply frames, in order.

    ``SessionService.follow`` hands over live messages before any stored event
    written after them, so they are held until the stored events catch up: a
    reply's live frames all precede its ``mix.reply`` event and are shown when it
    comes up; the others when the follower has caught up. ``resume`` is how many
    frames the client already has of the first reply shown.
    """

    def __init__(self, start: Position) -> None:
        self.after = start.seq
        self.position = start  # of the last frame sent
        self.resume = start.frames
        self.views: dict[str, ReplyView] = {}
        self.held: list[dict[str, Any]] = []
        self.dropped = 0

    def take(self, item: Followed) -> Iterator[ServerSentEvent]:
        if isinstance(item, Event):
            yield from self.stored(item)
        elif isinstance(item, LiveMessages):
            self.hold(item.messages)
            self.dropped = item.dropped
        elif isinstance(item, CaughtUp):
            yield from self.flush()
        else:
            yield heartbeat(self.position)

    def hold(self, messages: tuple[Any, ...] | list[Any]) -> None:
        self.held.extend(messages)

    def send(self, at: Position, name: str, data: object) -> ServerSentEvent:
        self.position = at
        return frame(at, name, data)

    def stored(self, event: Event) -> Iterator[ServerSentEvent]:
        if event.type == transcript.REPLY:
            yield from self.reply(event)
            return
        self.after = event.seq
        if event.type.startswith(transcript.STREAM_PREFIX):
            name = event.type[len(transcript.STREAM_PREFIX) :]
            yield self.send(Position(event.seq), name, event.payload)

    def view(self, reply: str) -> ReplyView:
        """The connection's view of a reply; the first one shown takes up ``resume``."""
        if reply not in self.views:
            self.views[reply] = ReplyView(shown=self.resume)
            self.resume = 0
        return self.views[reply]

    def reply(self, event: Event) -> Iterator[ServerSentEvent]:
        reply = str(event.payload.get("assistantMessageId", ""))
        mine = [m for m in self.held if m["reply"] == reply]
        self.held = [m for m in self.held if m["reply"] != reply]
        yield from self.pending(mine)  # still after the previous stored event
        view = self.view(reply)
        del self.views[reply]
        if view.complete and not self.dropped:
            self.after = event.seq
            self.position = Position(event.seq)
            yield heartbeat(self.position)
        else:
            yield from self.whole(event, seen=view.shown)

    def whole(self, event: Event, *, seen: int) -> Iterator[ServerSentEvent]:
        """The stored reply, one frame of each kind, numbered on from the ``seen`` frames
        the client has of it (and then marked, so it can replace them); the last frame
        has the stored event's id."""
        parts = list(reply_frames(event.payload))
        for i, (name, data) in enumerate(parts, 1):
            at = Position(event.seq) if i == len(parts) else Position(self.after, seen + i)
            yield self.send(at, name, {**data, "replayed": True} if seen else data)
        self.after = event.seq

    def flush(self) -> Iterator[ServerSentEvent]:
        held, self.held = self.held, []
        yield from self.pending(held)

    def pending(self, messages: list[dict[str, Any]]) -> Iterator[ServerSentEvent]:
        """Live frames in order, each once; after a gap the reply waits to be shown whole."""
        for m in messages:
            view, n = self.view(m["reply"]), int(m["n"])
            view.live = True
            if view.broken or n <= view.shown:
                continue  # a gap before, or the client has it already
            if n != view.shown + 1:
                view.broken = True
                continue
            view.shown = n
            yield self.send(Position(self.after, n), m["frame"], m["data"])


def start_position(session: Session, last_event_id: str | None) -> Position:
    """Where a connection starts: the session's end, or the client's ``Last-Event-ID``
    (a position this stream sent; one past anything sent yet means the end)."""
    if not last_event_id:
        return Position(session.last_seq)
    found = EVENT_ID.fullmatch(last_event_id)  # ASCII digits (str.isdigit takes "²")
    if found is None:
        raise MixError("Last-Event-ID must be an id this stream sent")
    digits = found[1].lstrip("0") or "0"
    if len(digits) > len(str(session.last_seq)) or int(digits) > session.last_seq:
        return Position(session.last_seq)
    return Position(int(digits), int(found[2] or 0))


async def frames(
    caller: Caller, session_id: str, start: Position, replies: LiveReplies
) -> AsyncIterator[ServerSentEvent]:
    """``connected`` once subscribed, then stored events after ``start`` merged with
    live replies, and a heartbeat whenever the session stays quiet for a while."""
    merge = Merge(start)
    followed = caller.service.follow(
        caller.workspace_id, session_id, after=start.seq, live=True,
        idle=caller.hub.settings.heartbeat_interval,
    )  # fmt: skip
    async with aclosing(followed):
        first = await anext(followed)  # the follower has subscribed: nothing live is missed
        yield frame(start, "connected", {"sessionId": session_id})
        # the reply in progress so far; what the bus brings from here on repeats some
        # of it, and each frame is shown once by its number
        merge.hold(replies.frames(session_id))
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
    start = start_position(session, last_event_id)
    replies = caller.service.drivers.get_as(KIND, AgentDriver).replies
    return EventSourceResponse(
        frames(caller, session_id, start, replies), headers={"Cache-Control": "no-cache"}
    )
