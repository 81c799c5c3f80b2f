"""The SSE decoder, and ``stream()`` reading events through heartbeats and split chunks."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from sessionhub import Client, NotFound, ProtocolError
from tests.client.conftest import Recorder, event_json, problem

SSE = {"Content-Type": "text/event-stream; charset=utf-8"}


def test_stream_skips_keepalives_after_an_id_and_keeps_the_last_id(
    client: Client, recorder: Recorder
) -> None:
    """httpx-sse hands on a blank event once an id was seen; it carries no event."""
    body = sse_body(event_json(1)) + b": ping\n\n\nevent: ping\n\nid: 9\n\n"
    recorder.reply(httpx.Response(200, content=body, headers=SSE))
    with client.stream("s-1") as stream:
        assert [e.seq for e in stream] == [1]
        assert stream.last_event_id == "9"  # the id sticks even when nothing dispatches


def test_stream_joins_multi_line_data(client: Client, recorder: Recorder) -> None:
    lines = json.dumps(event_json(5), indent=1).split("\n")
    body = "retry: soon\nfoo: bar\n" + "".join(f"data:{line}\n" for line in lines) + "\n"
    recorder.reply(httpx.Response(200, content=body.encode(), headers=SSE))
    assert [e.seq for e in client.stream("s-1")] == [5]


def test_a_stream_that_is_not_an_event_stream_is_protocol_error(
    client: Client, recorder: Recorder
) -> None:
    page = b"<html>a proxy's login page</html>"
    recorder.reply(httpx.Response(200, content=page, headers={"Content-Type": "text/html"}))
    with pytest.raises(ProtocolError, match="not an event stream"):
        next(client.stream("s-1"))


def sse_body(*events: dict[str, object], heartbeat: bool = True, crlf: bool = False) -> bytes:
    parts: list[str] = []
    for event in events:
        if heartbeat:
            parts.append(": ping\n\n")
        # Pretty-printed JSON spreads the event over several data: lines.
        lines = json.dumps(event, indent=1).split("\n")
        data = "".join(f"data: {line}\n" for line in lines)
        parts.append(f"id: {event['seq']}\nevent: {event['type']}\n{data}\n")
    text = "".join(parts)
    return (text.replace("\n", "\r\n") if crlf else text).encode()


@pytest.mark.parametrize("crlf", [False, True])
def test_stream_yields_events_across_heartbeats(
    client: Client, recorder: Recorder, crlf: bool
) -> None:
    body = sse_body(event_json(3), event_json(4, type="tool_call"), crlf=crlf)
    recorder.reply(httpx.Response(200, content=body, headers={"Content-Type": "text/event-stream"}))
    with client.stream("s-1", since=2) as stream:
        events = list(stream)
        assert stream.last_event_id == "4"
    assert [(e.seq, e.type) for e in events] == [(3, "message"), (4, "tool_call")]
    assert events[0].payload == {"text": "hello 3"}
    request = recorder.last
    assert request.url.path == "/v1/sessions/s-1/stream"
    assert request.url.params["since"] == "2"
    assert request.headers["Accept"] == "text/event-stream"
    assert "Last-Event-ID" not in request.headers
    assert request.extensions["timeout"]["read"] is None


def test_stream_survives_chunks_split_mid_line(client: Client, recorder: Recorder) -> None:
    body = sse_body(event_json(1), event_json(2))

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 7):
            yield body[i : i + 7]

    recorder.reply(httpx.Response(200, content=chunks(), headers=SSE))
    assert [e.seq for e in client.stream("s-1")] == [1, 2]


def test_stream_resumes_with_last_event_id(client: Client, recorder: Recorder) -> None:
    recorder.reply(httpx.Response(200, content=b"", headers=SSE))
    assert list(client.stream("s-1", last_event_id="41")) == []
    assert recorder.last.headers["Last-Event-ID"] == "41"
    assert "since" not in recorder.last.url.params


def test_stream_error_is_mapped_on_first_read(client: Client, recorder: Recorder) -> None:
    recorder.reply(problem(404, "no such session"))
    stream = client.stream("missing")
    assert recorder.requests == []  # nothing is sent until iteration starts
    with pytest.raises(NotFound, match="no such session"):
        next(stream)


def test_stream_with_bad_data_is_protocol_error(client: Client, recorder: Recorder) -> None:
    recorder.reply(httpx.Response(200, content=b"data: {not json}\n\n", headers=SSE))
    with pytest.raises(ProtocolError):
        next(client.stream("s-1"))


def test_closing_a_stream_closes_the_response(client: Client, recorder: Recorder) -> None:
    closed: list[bool] = []

    class Body(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield sse_body(event_json(1), event_json(2))

        def close(self) -> None:
            closed.append(True)

    recorder.reply(httpx.Response(200, stream=Body(), headers=SSE))
    stream = client.stream("s-1")
    assert next(stream).seq == 1
    stream.close()
    assert closed == [True]
    with pytest.raises(StopIteration):
        next(stream)
