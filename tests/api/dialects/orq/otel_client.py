"""The real OpenTelemetry SDK and OTLP/HTTP exporter against sessionhub's /v1/traces.

Usage: python otel_client.py <server URL> <API key> <thread id>
Prints one JSON line with what the exporter reported.
"""

from __future__ import annotations

import json
import sys

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

BASE = 1_900_000_000_000_000_000  # 2030-03-17T17:46:40Z in ns
MS = 1_000_000


def exporter(url: str, key: str, **options: object) -> OTLPSpanExporter:
    return OTLPSpanExporter(
        endpoint=f"{url}/v1/traces", headers={"Authorization": f"Bearer {key}"}, **options
    )


def one_trace(provider: TracerProvider, n: int, attributes: dict[str, object]) -> None:
    """A root span of 100 ms (+ n) with an LLM child span carrying usage and cost."""
    tracer = provider.get_tracer("sessionhub-test")
    start = BASE + n * 1000 * MS
    root = tracer.start_span(f"agent-{n}", start_time=start, attributes=attributes)
    with trace.use_span(root, end_on_exit=False):
        child = tracer.start_span("llm", start_time=start + 10 * MS, attributes={
            "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5,
            "gen_ai.usage.input_cost": 0.2, "gen_ai.usage.output_cost": 0.3,
        })  # fmt: skip
        child.end(end_time=start + 60 * MS)
    root.end(end_time=start + (100 + n) * MS)


def main() -> None:
    url, key, thread_id = sys.argv[1:4]
    resource = Resource.create({"service.name": "otel-test", "session.id": "otel-thread"})
    out: dict[str, object] = {}
    # 1. two traces for the thread named on the resource (created on first sight), gzip
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(
        BatchSpanProcessor(exporter(url, key, compression=Compression.Gzip))
    )
    one_trace(provider, 1, {})
    out["flush1"] = provider.force_flush()
    one_trace(provider, 2, {})
    out["flush2"] = provider.force_flush()
    # 2. a span attribute overrides the resource: a thread created through Orq, by its id
    one_trace(provider, 3, {"session.id": thread_id})
    out["flush3"] = provider.force_flush()
    provider.shutdown()
    # 3. the same spans with a wrong key, and with none: the exporter reports a failure
    memory = InMemorySpanExporter()
    other = TracerProvider(resource=resource)
    other.add_span_processor(SimpleSpanProcessor(memory))
    one_trace(other, 4, {})
    spans = memory.get_finished_spans()
    out["wrong_key"] = exporter(url, "shk_wrong").export(spans).name
    out["no_key"] = OTLPSpanExporter(endpoint=f"{url}/v1/traces").export(spans).name
    print(json.dumps(out))


if __name__ == "__main__":
    main()
