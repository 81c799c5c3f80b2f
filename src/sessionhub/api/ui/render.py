"""What the UI shows of a session: safe markdown and each kind's transcript as view items.

Nothing here trusts a payload: markdown is rendered with raw HTML off and the result
sanitized again (nh3); everything else reaches the templates as text, autoescaped there.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

from sessionhub.domain.models import Event, Session

_MD = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")
BASE64 = re.compile(r"^[A-Za-z0-9+/=\s]*$")


def markdown(text: str) -> Markup:
    """``text`` as HTML that can carry no script: no raw HTML in, sanitized out."""
    html = nh3.clean(_MD.render(text), link_rel="noopener noreferrer nofollow")
    return Markup(html)


def pretty(value: Any) -> str:
    """JSON indented for reading (also JSON that arrives as a string: tool arguments)."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        if not isinstance(parsed, dict | list):
            return value
        value = parsed
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


def plain(text: Any) -> str:
    """Terminal text without its colour codes (tracebacks)."""
    if isinstance(text, list):
        text = "\n".join(str(line) for line in text)
    return ANSI.sub("", str(text))


@dataclass
class Output:
    """One kernel cell output: text, an error with its traceback, or an image."""

    kind: str  # "text", "error", "image", "html-as-text"
    text: str = ""
    image: str = ""  # a data: URL


@dataclass
class Item:
    """One event as the transcript shows it."""

    event: Event
    template: str
    title: str
    body: Markup | None = None
    detail: str = ""
    outputs: list[Output] = field(default_factory=list)
    error: bool = False


def _image(mime: str, data: Any) -> Output | None:
    if not isinstance(data, str) or not BASE64.match(data):
        return None
    return Output("image", image=f"data:{mime};base64,{''.join(data.split())}")


def kernel_output(output: dict[str, Any]) -> Output:
    kind = output.get("output_type")
    if kind == "stream":
        return Output("text", text=plain(output.get("text", "")))
    if kind == "error":
        head = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
        return Output("error", text=plain(output.get("traceback") or head))
    data = output.get("data") or {}
    for mime in IMAGE_TYPES:
        if mime in data and (image := _image(mime, data[mime])) is not None:
            return image
    return Output("text", text=plain(data.get("text/plain", pretty(data))))


def kernel_item(event: Event) -> Item:
    p = event.payload
    count = p.get("execution_count")
    outputs = [kernel_output(o) for o in p.get("outputs") or [] if isinstance(o, dict)]
    return Item(
        event, "cell", f"In [{count if count is not None else ' '}]", detail=str(p.get("code", "")),
        outputs=outputs, error=p.get("status") == "error",
    )  # fmt: skip


def agent_item(event: Event) -> Item | None:
    p = event.payload
    if event.type.startswith("mix."):
        return None  # live-stream frames: the message events hold the same text
    if event.type == "message":
        role = event.role.value if event.role else "message"
        text = str(p.get("content") or "")
        calls = [str(c.get("name", "?")) for c in p.get("toolCalls") or [] if isinstance(c, dict)]
        if not text and calls:
            text = "*Calls " + ", ".join(f"`{name}`" for name in calls) + "*"
        item = Item(event, "message", role, body=markdown(text))
        item.detail = str(p.get("reasoning") or "")
        return item
    if event.type == "tool_call":
        return Item(
            event, "tool", f"Tool call: {p.get('name', '?')}", detail=pretty(p.get("input", {}))
        )
    if event.type == "tool_result":
        name = p.get("name") or p.get("toolCallId") or "?"
        return Item(event, "tool", f"Tool result: {name}", detail=pretty(p.get("result", "")),
                    error=bool(p.get("isError")))  # fmt: skip
    if event.type == "turn.cancelled":
        return Item(event, "note", "Turn cancelled")
    return generic_item(event)


def generic_item(event: Event) -> Item:
    p = event.payload
    title = event.type + (f" ({event.role.value})" if event.role else "")
    content = p.get("content")
    if isinstance(content, str) and len(p) <= 2:
        return Item(event, "message", title, body=markdown(content))
    return Item(event, "event", title, detail=pretty(p) if p else "")


def transcript(session: Session, events: list[Event]) -> list[Item]:
    items: list[Item] = []
    for event in events:
        if session.kind == "agent":
            item = agent_item(event)
        elif session.kind == "kernel" and event.type == "execution":
            item = kernel_item(event)
        else:
            item = generic_item(event)
        if item is not None:
            items.append(item)
    return items


@dataclass
class Span:
    event: Event
    name: str
    depth: int
    start_ms: float
    duration_ms: float
    left: float  # per mille of the trace's width
    width: float
    status: str


def _when(value: Any) -> datetime | None:
    try:
        stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _timed(events: list[Event]) -> list[tuple[Event, datetime, datetime]]:
    """The span events with a readable start and end, in start order."""
    timed = []
    for event in events:
        if event.type not in ("trace", "trace.span"):
            continue
        start, end = _when(event.payload.get("start")), _when(event.payload.get("end"))
        if start is not None and end is not None:
            timed.append((event, start, end))
    return sorted(timed, key=lambda t: t[1])


def waterfall(events: list[Event]) -> list[Span]:
    """The trace's spans in start order, placed on one time axis (``left``/``width``
    in per mille), indented by their depth below the root."""
    timed = _timed(events)
    if not timed:
        return []
    first = timed[0][1]
    total = max((end - first).total_seconds() for _, _, end in timed) or 1e-9
    parents = {e.payload.get("span_id"): e.payload.get("parent_span_id") for e, _, _ in timed}
    spans = []
    for event, start, end in timed:
        offset, length = (start - first).total_seconds(), max((end - start).total_seconds(), 0)
        spans.append(Span(
            event, str(event.payload.get("name", "span")), _depth(event, parents),
            offset * 1000, length * 1000, 1000 * offset / total, max(1000 * length / total, 2),
            str(event.payload.get("status", "unset")),
        ))  # fmt: skip
    return spans


def _depth(event: Event, parents: dict[Any, Any]) -> int:
    depth, parent, seen = 0, event.payload.get("parent_span_id"), set()
    while parent and parent in parents and parent not in seen and depth < 20:
        seen.add(parent)
        depth, parent = depth + 1, parents[parent]
    return depth + (1 if parent and depth < 20 and parent not in parents else 0)


LEASE_FIELDS = (
    ("machine_id", "Machine"), ("state", "State"), ("url", "URL"), ("gpu", "GPU"),
    ("start_time", "Started"), ("timeout_end", "Times out"), ("end_time", "Ended"),
    ("end_reason", "End reason"), ("price_per_hour", "Price per hour"), ("cost", "Cost"),
)  # fmt: skip


def lease(session: Session) -> list[tuple[str, str, bool]]:
    """The machine lease's fields to show: label, value, and whether it is a link."""
    rows = []
    for key, label in LEASE_FIELDS:
        value = session.attributes.get(key)
        if value in (None, ""):
            continue
        link = key == "url" and str(value).startswith(("http://", "https://"))
        if key in ("price_per_hour", "cost") and isinstance(value, int | float):
            value = f"${value:,.4f}"
        rows.append((label, str(value), link))
    return rows
