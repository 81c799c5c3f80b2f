"""``POST /v1/traces``: the OTLP/HTTP trace receiver (JSON and protobuf).

What an OpenTelemetry exporter with endpoint ``http://host:8700`` posts to. The body
is an ``ExportTraceServiceRequest`` as ``application/json`` (OTLP/JSON: camelCase
keys, hex ids, int64 as numbers or strings) or ``application/x-protobuf``, optionally
gzip-compressed. Spans become trace events of the trace sessions their
``session.id`` names (`sessionhub.kinds.trace.otlp`). Answers follow OTLP/HTTP in the
request's encoding: 200 with an ``ExportTraceServiceResponse`` (``partialSuccess``
counts rejected spans), errors as a ``google.rpc.Status`` ``{code, message}``.
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from fastapi import APIRouter, Request
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)
from starlette.responses import Response

from sessionhub.api.deps import authenticate
from sessionhub.api.native.otlp_wire import spans_from_json, spans_from_protobuf
from sessionhub.api.problems import status_for
from sessionhub.core.hub import Hub
from sessionhub.domain import errors
from sessionhub.kinds.trace.otlp import OtlpIngest
from sessionhub.kinds.trace.rules import TraceSessions

router = APIRouter(tags=["otlp"])
JSON = "application/json"
PROTOBUF = "application/x-protobuf"
PROTOBUF_TYPES = {PROTOBUF, "application/protobuf"}
GRPC_CODE = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 413: 8, 415: 3, 503: 14}


class UnsupportedMediaType(errors.Invalid):
    """A content type or encoding this receiver does not read (415)."""


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def status_body(code: int, message: str, protobuf: bool) -> tuple[bytes, str]:
    """A ``google.rpc.Status`` (field 1 code, field 2 message) in the request's encoding."""
    if not protobuf:
        return orjson.dumps({"code": code, "message": message}), JSON
    text = message.encode()
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text, PROTOBUF


def error_response(exc: errors.SessionHubError, protobuf: bool) -> Response:
    status = 415 if isinstance(exc, UnsupportedMediaType) else status_for(exc)
    body, media = status_body(GRPC_CODE.get(status, 13), exc.detail, protobuf)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return Response(body, status_code=status, media_type=media, headers=headers)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def check_media_type(value: str) -> None:
    if value != JSON and value not in PROTOBUF_TYPES:
        raise UnsupportedMediaType(
            f"send OTLP as {JSON} or {PROTOBUF}, not {value or 'no content type'}"
        )


def decompress(body: bytes, encoding: str, limit: int) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise UnsupportedMediaType(f"Content-Encoding {encoding!r} is not supported; use gzip")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise errors.Invalid("the body is not valid gzip") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise errors.TooLarge(f"the decompressed body is over the limit of {limit} bytes")
    if not inflater.eof:
        raise errors.Invalid("the gzip body is truncated")
    return out


def success(rejected: int, message: str, protobuf: bool) -> Response:
    reply = ExportTraceServiceResponse()
    if rejected:
        reply.partial_success.CopyFrom(
            ExportTracePartialSuccess(rejected_spans=rejected, error_message=message)
        )
    if protobuf:
        return Response(reply.SerializeToString(), media_type=PROTOBUF)
    return Response(orjson.dumps(MessageToDict(reply)), media_type=JSON)


async def receive(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    kind = media_type(request)
    protobuf = kind in PROTOBUF_TYPES
    try:
        principal = await authenticate(request, hub)
        check_media_type(kind)
        limit = hub.settings.max_json_bytes
        raw = await request.body()
        body = decompress(raw, request.headers.get("content-encoding", ""), limit)
        spans = spans_from_protobuf(body) if protobuf else spans_from_json(body)
        ingest = OtlpIngest(TraceSessions(hub.service))
        result = await ingest.export(principal.workspace_id, spans)
    except errors.SessionHubError as exc:
        return error_response(exc, protobuf)
    return success(result.rejected, result.message, protobuf)


DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            JSON: {"schema": {"$ref": "#/components/schemas/OtlpExportRequest"}},
            PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
        },
    },
}
ERROR = {"description": "a google.rpc.Status {code, message}"}


@router.post(
    "/v1/traces",
    summary="OTLP/HTTP trace export",
    openapi_extra=DOC,
    responses={
        200: {"description": "ExportTraceServiceResponse; partialSuccess counts rejected spans"},
        400: ERROR, 401: ERROR, 403: ERROR, 413: ERROR, 415: ERROR,
    },
)  # fmt: skip
async def export_traces(request: Request) -> Response:
    """Record spans as trace events of the trace sessions their ``session.id`` names."""
    return await receive(request)
