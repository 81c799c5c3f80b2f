"""OpenTelemetry traces of the server itself: off by default; over OTLP/HTTP when on.

A real `sessionhub serve` process exports to an OTLP/HTTP receiver the test runs on
127.0.0.1 (a free port), configured by the standard OTEL_* variables only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from sessionhub import tracing
from sessionhub.config import Settings
from sessionhub.domain.errors import Invalid
from sessionhub.testing.fixtures import free_port
from tests.api.dialects.mix.fake_llm import FakeLLM
from tests.api.test_stream import wait_healthy

Span = dict[str, Any]


class OtlpReceiver:
    """An OTLP/HTTP trace receiver (protobuf): every span it was sent, flattened."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.collect(self.path, body)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def collect(self, path: str, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        self.paths.append(path)
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes = {a.key: attribute(a.value) for a in span.attributes}
                    self.spans.append({
                        "name": span.name, "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(), "parent": span.parent_span_id.hex(),
                        "attributes": attributes, "resource": resource,
                    })  # fmt: skip

    def __enter__(self) -> OtlpReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def attribute(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


class Servers:
    """Starts `sessionhub serve` processes with extra environment; stops (and reaps) them."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, database_url: str, **extra: str) -> str:
        port = free_port()
        env = {**os.environ, "SESSIONHUB_DATABASE_URL": database_url, "SESSIONHUB_NO_AUTH": "1",
               "SESSIONHUB_DATA_DIR": str(self.data_dir), "SESSIONHUB_PORT": str(port),
               "SESSIONHUB_LOG_LEVEL": "WARNING", **extra}  # fmt: skip
        command = [sys.executable, "-m", "sessionhub", "serve"]
        self.started.append(subprocess.Popen(command, env=env))
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url)
        return url

    def stop(self) -> None:
        stop(self.started)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    started = Servers(tmp_path / "data")
    try:
        yield started
    finally:
        started.stop()


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for proc in processes:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def until(check: Callable[[], bool], timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_requests_store_writes_and_runs_are_exported_over_otlp(
    servers: Servers, database_url: str
) -> None:
    with OtlpReceiver() as receiver, FakeLLM([{"content": "hello back"}]) as llm:
        url = servers.start(
            database_url,
            SESSIONHUB_OTEL_TRACES="1",
            SESSIONHUB_AGENT_BASE_URL=llm.url,
            SESSIONHUB_AGENT_MODEL="fake",
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
            OTEL_SERVICE_NAME="hub-under-test",
            OTEL_BSP_SCHEDULE_DELAY="50",
        )
        sid = httpx.post(f"{url}/v1/sessions", json={"kind": "agent"}).json()["id"]
        appended = httpx.post(f"{url}/v1/sessions/{sid}/events", json={"type": "note"})
        assert appended.status_code == 201, appended.text
        started = httpx.post(f"{url}/v1/sessions/{sid}/runs", json={"input": {"text": "hi"}})
        assert started.status_code == 202, started.text
        run_id = started.json()["id"]

        def replied() -> bool:
            events = httpx.get(f"{url}/v1/sessions/{sid}/events").json()["items"]
            return any(e.get("role") == "assistant" for e in events)

        assert until(replied), "the agent never answered"
        servers.stop()  # its last spans go out as it stops
        assert any(s["name"] == "run agent" for s in receiver.spans)

    assert set(receiver.paths) == {"/v1/traces"}
    by_name: dict[str, list[Span]] = {}
    for span in receiver.spans:
        by_name.setdefault(span["name"], []).append(span)
    assert {s["resource"]["service.name"] for s in receiver.spans} == {"hub-under-test"}
    # requests: named after their route templates, the hot append among them
    append = by_name["POST /v1/sessions/{session_id}/events"][0]
    assert append["attributes"]["http.route"] == "/v1/sessions/{session_id}/events"
    assert "POST /v1/sessions" in by_name
    # store writes: one span per transaction (a write batch serves many requests at once)
    system = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    writes = by_name["store.write"]
    assert len(writes) >= 3  # the session, the event, the run (and what the agent wrote)
    assert {w["attributes"]["db.system.name"] for w in writes} == {system}
    # the driver's run, in the trace of the request that started it
    (run,) = by_name["run agent"]
    assert run["attributes"]["sessionhub.run_id"] == run_id
    assert run["attributes"]["sessionhub.session_id"] == sid
    (start_request,) = by_name["POST /v1/sessions/{session_id}/runs"]
    assert run["trace_id"] == start_request["trace_id"]


def test_traces_are_off_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sessionhub.api.app import create_app

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    app = create_app(Settings(data_dir=tmp_path, no_auth=True))
    assert app.state.tracer_provider is None
    assert not tracing.enabled()
    assert tracing.span("store.write") is tracing.span("run agent")  # one shared no-op


def test_turning_traces_on_without_the_extra_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sessionhub.api import telemetry

    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)  # not installed
    with pytest.raises(Invalid, match=r"pip install 'sessionhub\[otel\]'"):
        telemetry.tracer_provider(Settings(data_dir=tmp_path, otel_traces=True))
    assert not tracing.enabled()
