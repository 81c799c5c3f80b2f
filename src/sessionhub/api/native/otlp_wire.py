"""OTLP trace export bodies → `OtlpSpan` values: OTLP/JSON and protobuf.

OTLP/JSON keys are lowerCamelCase (snake_case is accepted too), trace and span ids
hex, int64 values numbers or decimal strings, enums integers. Protobuf bodies are
decoded with ``opentelemetry-proto``; their attribute values go through the same
``AnyValue`` reader as JSON's.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue as KeyValueProto
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from sessionhub.domain.errors import Invalid
from sessionhub.kinds.trace.otlp import OtlpSpan

MAX_DEPTH = 8
Nanos = Annotated[int, Field(ge=0, lt=2**64)]
Id = Annotated[str, Field(max_length=64)]


class Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, populate_by_name=True)


class OtlpKeyValue(Wire):
    key: Annotated[str, Field(max_length=1000)]
    value: dict[str, Any] | None = None


class OtlpStatus(Wire):
    code: int = 0
    message: str = ""


class OtlpSpanIn(Wire):
    trace_id: Id = ""
    span_id: Id = ""
    parent_span_id: Id = ""
    name: str = ""
    kind: int = 0
    start_time_unix_nano: Nanos = 0
    end_time_unix_nano: Nanos = 0
    attributes: list[OtlpKeyValue] = Field(default_factory=list)
    status: OtlpStatus | None = None


class OtlpScope(Wire):
    name: str = ""


class OtlpScopeSpans(Wire):
    scope: OtlpScope | None = None
    spans: list[OtlpSpanIn] = Field(default_factory=list)


class OtlpResource(Wire):
    attributes: list[OtlpKeyValue] = Field(default_factory=list)


class OtlpResourceSpans(Wire):
    resource: OtlpResource | None = None
    scope_spans: list[OtlpScopeSpans] = Field(default_factory=list)


class OtlpExportRequest(Wire):
    resource_spans: list[OtlpResourceSpans] = Field(default_factory=list)


def _pick(value: dict[str, Any], camel: str) -> tuple[bool, Any]:
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)
    for key in (camel, snake):
        if key in value:
            return True, value[key]
    return False, None


def _list(value: Any, what: str) -> list[Any]:
    values = value.get("values", []) if isinstance(value, dict) else None
    if not isinstance(values, list):
        raise Invalid(f"an {what} needs a 'values' list")
    return values


def any_value(value: Any, depth: int = 0) -> Any:
    """An OTLP ``AnyValue`` (as a JSON object) → a plain JSON value."""
    if depth > MAX_DEPTH:
        raise Invalid(f"attribute values nest deeper than {MAX_DEPTH} levels")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Invalid("an attribute value must be an AnyValue object")
    for name, convert in _SCALARS:
        found, raw = _pick(value, name)
        if found:
            return convert(raw)
    found, raw = _pick(value, "arrayValue")
    if found:
        return [any_value(v, depth + 1) for v in _list(raw, "arrayValue")]
    found, raw = _pick(value, "kvlistValue")
    if found:
        return attributes(_list(raw, "kvlistValue"), depth + 1)
    return None


def _string(raw: Any) -> str:
    if not isinstance(raw, str):
        raise Invalid("stringValue must be a string")
    return raw


def _bool(raw: Any) -> bool:
    if not isinstance(raw, bool):
        raise Invalid("boolValue must be true or false")
    return raw


def _int(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise Invalid("intValue must be an integer or a decimal string")
    try:
        number = int(raw)
    except ValueError:
        raise Invalid("intValue must be an integer or a decimal string") from None
    if not -(2**63) <= number < 2**63:
        raise Invalid("intValue is out of the int64 range")
    return number


def _double(raw: Any) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise Invalid("doubleValue must be a number")
    try:
        number = float(raw)
    except ValueError:
        raise Invalid("doubleValue must be a number") from None
    return number if number == number and abs(number) != float("inf") else None


_SCALARS = (
    ("stringValue", _string), ("boolValue", _bool), ("intValue", _int),
    ("doubleValue", _double), ("bytesValue", _string),
)  # fmt: skip


def attributes(items: list[Any], depth: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        kv = item if isinstance(item, OtlpKeyValue) else _key_value(item)
        out[kv.key] = any_value(kv.value, depth)
    return out


def _key_value(item: Any) -> OtlpKeyValue:
    try:
        return OtlpKeyValue.model_validate(item)
    except ValidationError:
        raise Invalid("a key-value needs a string 'key' and an AnyValue 'value'") from None


def _spans(request: OtlpExportRequest) -> list[OtlpSpan]:
    out: list[OtlpSpan] = []
    for rs in request.resource_spans:
        resource = attributes(rs.resource.attributes) if rs.resource else {}
        for ss in rs.scope_spans:
            scope = ss.scope.name if ss.scope else ""
            out.extend(_span(s, scope, resource) for s in ss.spans)
    return out


def _span(s: OtlpSpanIn, scope: str, resource: dict[str, Any]) -> OtlpSpan:
    status = s.status or OtlpStatus()
    return OtlpSpan(
        trace_id=s.trace_id.lower(), span_id=s.span_id.lower(),
        parent_span_id=s.parent_span_id.lower(), name=s.name, kind=s.kind,
        start_ns=s.start_time_unix_nano, end_ns=s.end_time_unix_nano,
        status_code=status.code, status_message=status.message, scope=scope,
        attributes=attributes(s.attributes), resource=resource,
    )  # fmt: skip


def spans_from_json(body: bytes) -> list[OtlpSpan]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Invalid("the body is not valid JSON") from None
    try:
        request = OtlpExportRequest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise Invalid(f"not an OTLP ExportTraceServiceRequest: {where}: {first['msg']}") from None
    return _spans(request)


def _proto_attributes(items: Any) -> list[OtlpKeyValue]:
    out = []
    for kv in items:
        assert isinstance(kv, KeyValueProto)
        out.append(OtlpKeyValue(key=kv.key, value=MessageToDict(kv.value)))
    return out


def spans_from_protobuf(body: bytes) -> list[OtlpSpan]:
    try:
        request = ExportTraceServiceRequest.FromString(body)
    except DecodeError:
        raise Invalid("the body is not a protobuf ExportTraceServiceRequest") from None
    out: list[OtlpSpan] = []
    for rs in request.resource_spans:
        resource = attributes(_proto_attributes(rs.resource.attributes))
        for ss in rs.scope_spans:
            for s in ss.spans:
                span = OtlpSpanIn(
                    trace_id=s.trace_id.hex(), span_id=s.span_id.hex(),
                    parent_span_id=s.parent_span_id.hex(), name=s.name, kind=s.kind,
                    start_time_unix_nano=s.start_time_unix_nano,
                    end_time_unix_nano=s.end_time_unix_nano,
                    attributes=_proto_attributes(s.attributes),
                    status=OtlpStatus(code=s.status.code, message=s.status.message),
                )  # fmt: skip
                out.append(_span(span, ss.scope.name, resource))
    return out
