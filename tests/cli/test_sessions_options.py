"""``sessions …`` fixes from a newcomer's first hour: ``--url`` after the command, whole
event ids in ``tail``, ``tail -f`` failing loudly, export/import progress that tells the truth."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
from rich.console import Console

from sessionhub.cli.progress import EventCounter, export_progress, import_progress
from tests.cli.test_sessions import Harness
from tests.client.conftest import Recorder, event_json, problem, session_json

SSE = {"Content-Type": "text/event-stream"}


def test_url_and_key_after_the_command(cli: Harness, recorder: Recorder, tmp_path: Path) -> None:
    export = tmp_path / "s.json"
    export.write_text(json.dumps({"format": "sessionhub.export/1"}))
    recorder.reply(httpx.Response(201, json=session_json("s-new", totals={"events": 3})))
    result = cli.run("import", "--url", "http://hub:9", "--api-key", "k9", str(export))
    assert result.exit_code == 0, result.output
    assert cli.targets == [("http://hub:9", "k9")]
    assert result.stdout.strip() == "s-new"
    assert "imported s.json: 3 events" in result.stderr


def test_url_after_the_command_wins_over_before_and_env(cli: Harness, recorder: Recorder) -> None:
    recorder.reply(httpx.Response(200, json={"items": [], "next_cursor": None}))
    result = cli.run(
        "--url", "http://before:1", "ls", "--url", "http://after:2",
        env={"SESSIONHUB_URL": "http://env:3", "SESSIONHUB_API_KEY": "env-key"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert cli.targets == [("http://after:2", "env-key")]


def test_tail_in_a_pipe_prints_whole_lines(cli: Harness, recorder: Recorder) -> None:
    long_id = "0196aaaa-bbbb-7ccc-8ddd-eeeeffff0000"
    payload = {"text": "x" * 300}
    recorder.reply(
        httpx.Response(200, json={"items": [event_json(1, id=long_id, payload=payload)]})
    )
    result = cli.run("tail", "s-1", env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    line = result.stdout.strip()
    assert line.split()[1] == long_id
    assert line.endswith('"' + "x" * 300 + '"}')


def test_tail_follow_when_the_session_is_deleted(cli: Harness, recorder: Recorder) -> None:
    recorder.reply(
        httpx.Response(200, json={"items": []}),
        httpx.Response(200, content=b": ping\n\n", headers=SSE),
        problem(404, "no such session"),
    )
    result = cli.run("tail", "s-1", "-f")
    assert result.exit_code == 1
    assert "session s-1 is gone" in result.stderr


def test_tail_follow_when_the_server_went_away(cli: Harness, recorder: Recorder) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    recorder.reply(
        httpx.Response(200, json={"items": [event_json(4)]}),
        httpx.Response(200, content=b"", headers=SSE),
        refuse,
    )
    result = cli.run("tail", "s-1", "-f")
    assert result.exit_code == 1
    assert "the server went away" in result.stderr and "after seq 4" in result.stderr


def test_tail_follow_when_the_connection_breaks(cli: Harness, recorder: Recorder) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("peer closed connection", request=request)

    recorder.reply(httpx.Response(200, json={"items": []}), broken)
    result = cli.run("tail", "s-1", "-f")
    assert result.exit_code == 1
    assert "error:" in result.stderr


def test_event_counter_counts_events_across_any_chunking() -> None:
    doc = {
        "format": "sessionhub.export/1",
        "session": {"id": "s", "events": [{"not": "counted"}]},
        "events": [
            event_json(1, payload={"events": [{"a": 1}], "text": 'say "{" and }'}),
            event_json(2),
            event_json(3, payload={}),
        ],
        "files": [{"path": "a"}],
    }
    raw = json.dumps(doc).encode()
    for size in (1, 7, 64, len(raw)):
        counter = EventCounter()
        for start in range(0, len(raw), size):
            counter.feed(raw[start : start + size])
        assert counter.count == 3 and not counter.broken


def test_event_counter_gives_up_quietly_on_garbage() -> None:
    counter = EventCounter()
    counter.feed(b'{"events": [{}, ]]]')
    assert counter.broken
    counter.feed(b"more")
    assert counter.count == 1


def terminal() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=200, color_system=None), buffer


def test_export_bar_shows_bytes_and_events_against_their_totals() -> None:
    console, buffer = terminal()
    counter = EventCounter()
    with export_progress(console, "export s-1", 2, counter) as update:
        counter.feed(b'{"events": [{"a": 1},')
        update(21, None)
        update(21, 40)
    text = buffer.getvalue()
    assert "0/2 events" in text and "(waiting for the server)" in text
    assert "1/2 events" in text
    assert "21 bytes" in text or "21/40 bytes" in text


def test_import_bar_shows_the_upload_then_the_servers_progress() -> None:
    console, buffer = terminal()
    with import_progress(console, "import s.json") as bars:  # what is drawn last shows
        bars.upload(10, 100)
        bars.upload(100, 100)
    uploaded = buffer.getvalue()
    assert "import s.json: uploading" in uploaded
    assert "uploaded; waiting for the server" in uploaded
    console, buffer = terminal()
    with import_progress(console, "import s.json") as bars:
        bars.upload(100, 100)
        bars.server(0, 2500)
        bars.server(1000, 2500)
    storing = buffer.getvalue()
    assert "the server is storing events" in storing and "1000/2500 events" in storing
