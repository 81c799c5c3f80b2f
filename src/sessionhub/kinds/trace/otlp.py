"""OpenTelemetry spans → trace events of trace sessions (what ``POST /v1/traces`` records).

The API layer decodes an OTLP export (JSON or protobuf) into `OtlpSpan` values; this
module picks each span's session and turns it into an event:

- The session is the span attribute ``session.id``, else that of another span of
  the same trace in the export (the root's first), else the resource attribute of
  the same name. It names a trace session by id or by external id (Orq's thread id);
  a name no trace session has yet creates one with that external id, as Orq groups
  traces into threads by the id they carry. A span without one is rejected (OTLP
  partial success), the rest of the export is kept.
- A span without a parent is a ``trace`` event (counted in ``traces_count``, its
  duration in the session's duration); a child span is ``trace.span`` (no duration:
  it lies inside its trace's).
- Usage and cost come from the GenAI attributes ``gen_ai.usage.input_tokens`` /
  ``output_tokens`` (or the older ``prompt_tokens`` / ``completion_tokens``) and
  ``gen_ai.usage.input_cost`` / ``output_cost`` / ``cost`` (``cost`` defaults to
  their sum).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sessionhub.domain.errors import AlreadyExists, Invalid
from sessionhub.domain.models import EventCreate
from sessionhub.kinds.trace.rules import SPAN, TRACE, TraceSessions, iso

SESSION_KEY = "session.id"
MAX_REF = 200
INPUT_TOKENS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
OUTPUT_TOKENS = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
INPUT_COST = "gen_ai.usage.input_cost"
OUTPUT_COST = "gen_ai.usage.output_cost"
TOTAL_COST = ("gen_ai.usage.cost", "gen_ai.usage.total_cost")
STATUS = {0: "unset", 1: "ok", 2: "error"}


@dataclass
class OtlpSpan:
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    start_ns: int
    end_ns: int
    kind: int = 0
    status_code: int = 0
    status_message: str = ""
    scope: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    resource: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExportResult:
    rejected: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        return "; ".join(self.errors[:5])


def trace_refs(spans: list[OtlpSpan]) -> dict[str, Any]:
    """``session.id`` span attributes by trace id, a root's winning over its children's."""
    refs: dict[str, Any] = {}
    for span in sorted(spans, key=lambda s: not s.parent_span_id):
        ref = span.attributes.get(SESSION_KEY)
        if span.trace_id and isinstance(ref, str) and ref.strip():
            refs[span.trace_id] = ref
    return refs


def session_ref(span: OtlpSpan, by_trace: dict[str, Any]) -> str:
    ref = span.attributes.get(SESSION_KEY)
    if ref is None:
        ref = by_trace.get(span.trace_id, span.resource.get(SESSION_KEY))
    if not isinstance(ref, str) or not ref.strip():
        raise Invalid(f"span {span.span_id or '?'} has no '{SESSION_KEY}' attribute")
    if len(ref) > MAX_REF:
        raise Invalid(f"span {span.span_id}: '{SESSION_KEY}' is over {MAX_REF} characters")
    return ref


def _count(attrs: dict[str, Any], keys: tuple[str, ...]) -> int:
    for key in keys:
        value = attrs.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise Invalid(f"{key} must be a non-negative number")
        if value != int(value):
            raise Invalid(f"{key} must be a whole number")
        return int(value)
    return 0


def _amount(attrs: dict[str, Any], keys: tuple[str, ...]) -> float | None:
    for key in keys:
        value = attrs.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid(f"{key} must be a number")
        if not 0 <= value < float("inf"):
            raise Invalid(f"{key} must be a non-negative finite number")
        return float(value)
    return None


def _when(nanos: int) -> str:
    return iso(datetime.fromtimestamp(nanos / 1e9, tz=UTC))


def to_event(span: OtlpSpan) -> EventCreate:
    attrs = span.attributes
    root = not span.parent_span_id
    if span.start_ns <= 0 or span.end_ns <= 0:
        raise Invalid(f"span {span.span_id}: start and end times are required")
    input_cost = _amount(attrs, (INPUT_COST,)) or 0.0
    output_cost = _amount(attrs, (OUTPUT_COST,)) or 0.0
    total = _amount(attrs, TOTAL_COST)
    payload: dict[str, Any] = {
        "name": span.name, "start": _when(span.start_ns), "end": _when(span.end_ns),
        "trace_id": span.trace_id, "span_id": span.span_id,
        "status": STATUS.get(span.status_code, "unset"), "kind": span.kind,
        "attributes": attrs, "resource": span.resource,
        "input_cost": input_cost, "output_cost": output_cost, "source": "otlp",
    }  # fmt: skip
    if span.parent_span_id:
        payload["parent_span_id"] = span.parent_span_id
    if span.status_message:
        payload["status_message"] = span.status_message
    if span.scope:
        payload["scope"] = span.scope
    elapsed = max(span.end_ns - span.start_ns, 0) // 1_000_000
    return EventCreate(
        type=TRACE if root else SPAN, payload=payload,
        input_tokens=_count(attrs, INPUT_TOKENS), output_tokens=_count(attrs, OUTPUT_TOKENS),
        cost=input_cost + output_cost if total is None else total,
        duration_ms=elapsed if root else 0,
    )  # fmt: skip


class OtlpIngest:
    """Record decoded spans into the trace sessions they name."""

    def __init__(self, traces: TraceSessions) -> None:
        self.traces = traces

    def group(self, spans: list[OtlpSpan], result: ExportResult) -> dict[str, list[EventCreate]]:
        grouped: dict[str, list[EventCreate]] = defaultdict(list)
        by_trace = trace_refs(spans)
        for span in spans:
            try:
                grouped[session_ref(span, by_trace)].append(to_event(span))
            except Invalid as exc:
                result.rejected += 1
                result.errors.append(exc.detail)
        return grouped

    async def export(self, workspace_id: str, spans: list[OtlpSpan]) -> ExportResult:
        result = ExportResult()
        for ref, events in self.group(spans, result).items():
            try:
                await self.traces.record(workspace_id, ref, events)
            except AlreadyExists:  # another export created the same thread just now
                await self.traces.record(workspace_id, ref, events, create=False)
        return result
