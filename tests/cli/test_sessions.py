"""``sessionhub sessions …`` against a MockTransport-backed client (CliRunner)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from sessionhub import Client
from sessionhub.cli.sessions import CliOptions, app
from tests.client.conftest import Recorder, event_json, problem, session_json


class Harness:
    """Runs the sub-app with a client factory that records what it was given."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.targets: list[tuple[str, str | None]] = []
        self.runner = CliRunner()

    def factory(self, url: str, api_key: str | None) -> Client:
        self.targets.append((url, api_key))
        return Client(base_url=url, api_key=api_key, transport=httpx.MockTransport(self.recorder))

    def run(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> Any:
        return self.runner.invoke(
            app,
            list(args),
            obj=CliOptions(client_factory=self.factory),
            input=input,
            env={"COLUMNS": "200", "SESSIONHUB_URL": "", "SESSIONHUB_API_KEY": "", **(env or {})},
        )


def page(*sessions: dict[str, Any], cursor: str | None = None) -> httpx.Response:
    return httpx.Response(200, json={"items": list(sessions), "next_cursor": cursor})


def test_url_and_key_options_and_env(cli: Harness, recorder: Recorder) -> None:
    recorder.reply(page(), page())
    assert cli.run("ls").exit_code == 0
    result = cli.run("ls", env={"SESSIONHUB_URL": "http://hub:1", "SESSIONHUB_API_KEY": "k"})
    assert result.exit_code == 0, result.output
    assert cli.targets == [("http://127.0.0.1:8700", None), ("http://hub:1", "k")]
    assert recorder.last.headers["Authorization"] == "Bearer k"
    recorder.reply(page())
    cli.run("--url", "http://other:2", "--api-key", "k2", "ls")
    assert cli.targets[-1] == ("http://other:2", "k2")


def test_ls_table_filters_and_next_cursor_hint(cli: Harness, recorder: Recorder) -> None:
    recorder.reply(
        page(
            session_json("s-1", name="alpha", title="[bold]Not markup[/bold]"),
            session_json("s-2", status="running", totals={"events": 12}),
            cursor="c-next",
        )
    )
    result = cli.run(
        "ls", "--kind", "agent", "--status", "running", "--parent", "p-1", "--limit", "2"
    )
    assert result.exit_code == 0, result.output
    assert "s-1" in result.stdout and "s-2" in result.stdout
    assert "alpha · [bold]Not markup[/bold]" in result.stdout
    assert "12" in result.stdout
    assert "--cursor c-next" in result.stderr
    assert recorder.last.url.params.multi_items() == [
        ("limit", "2"),
        ("kind", "agent"),
        ("status", "running"),
        ("parent_id", "p-1"),
    ]


def test_ls_all_pages_json(cli: Harness, recorder: Recorder) -> None:
    recorder.reply(page(session_json("a"), cursor="c1"), page(session_json("b")))
    result = cli.run("ls", "--all-pages", "--json", "--limit", "1")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert [s["id"] for s in body["items"]] == ["a", "b"]
    assert body["next_cursor"] is None
    assert [r.url.params.get("cursor") for r in recorder.requests] == [None, "c1"]


def test_ls_rejects_unknown_status(cli: Harness, recorder: Recorder) -> None:
    result = cli.run("ls", "--status", "sleeping")
    assert result.exit_code == 2
    assert recorder.requests == []


def test_show_renders_fields_and_totals(cli: Harness, recorder: Recorder) -> None:
    recorder.reply(
        httpx.Response(
            200,
            json=session_json(
                "s-1",
                title="My session",
                forked_from="s-0",
                metadata={"team": "a"},
                totals={"events": 7, "tool_calls": 3, "cost": 0.5, "by_type": {"message": 4}},
            ),
        )
    )
    result = cli.run("show", "s-1")
    assert result.exit_code == 0, result.output
    for text in ("My session", "s-0 @ end", '{"team": "a"}', "0.5000", "message=4"):
        assert text in result.stdout
    assert recorder.last.url.path == "/v1/sessions/s-1"


def test_show_json(cli: Harness, recorder: Recorder) -> None:
    recorder.reply(httpx.Response(200, json=session_json("s-1")))
    result = cli.run("show", "s-1", "--json")
    assert json.loads(result.stdout)["id"] == "s-1"


def test_create_with_metadata(cli: Harness, recorder: Recorder) -> None:
    recorder.reply(httpx.Response(201, json=session_json("s-new")))
    result = cli.run(
        "create", "--kind", "agent", "--title", "T", "--metadata", "team=a", "-m", "url=x=y"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "s-new"
    assert recorder.json_body() == {
        "kind": "agent",
        "title": "T",
        "metadata": {"team": "a", "url": "x=y"},
    }


def test_create_rejects_bad_metadata(cli: Harness, recorder: Recorder) -> None:
    result = cli.run("create", "--metadata", "novalue")
    assert result.exit_code == 2
    assert "KEY=VALUE" in result.output
    assert recorder.requests == []


def test_rm_asks_first(cli: Harness, recorder: Recorder) -> None:
    result = cli.run("rm", "s-1", input="n\n")
    assert result.exit_code == 1
    assert recorder.requests == []
    recorder.reply(httpx.Response(204), httpx.Response(204))
    assert cli.run("rm", "s-1", input="y\n").exit_code == 0
    result = cli.run("rm", "s-1", "--yes")
    assert result.exit_code == 0
    assert "deleted s-1" in result.stderr
    assert [(r.method, r.url.path) for r in recorder.requests] == [
        ("DELETE", "/v1/sessions/s-1")
    ] * 2


def test_api_error_is_one_clear_line(cli: Harness, recorder: Recorder) -> None:
    recorder.reply(problem(404, "session s-404 not found", title="Not Found"))
    result = cli.run("show", "s-404")
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: Not Found: session s-404 not found"
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_unreachable_server(cli: Harness, recorder: Recorder) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    recorder.reply(refuse)
    result = cli.run("ls")
    assert result.exit_code == 1
    assert "cannot reach http://127.0.0.1:8700" in result.stderr


def test_fork_and_rewind(cli: Harness, recorder: Recorder) -> None:
    recorder.reply(
        httpx.Response(201, json=session_json("s-fork")),
        httpx.Response(
            200, json={"session": session_json(), "deleted_events": 4, "deleted_files": ["a"]}
        ),
    )
    result = cli.run("fork", "s-1", "--at", "e-2", "--title", "copy")
    assert result.stdout.strip() == "s-fork"
    assert recorder.json_body(0) == {"at_event_id": "e-2", "title": "copy"}
    result = cli.run("rewind", "s-1", "--to", "e-2", "--cleanup-files")
    assert result.exit_code == 0, result.output
    assert "deleted 4 events, 1 files" in result.stdout
    assert recorder.json_body(1) == {"to_event_id": "e-2", "cleanup_files": True}


def test_fork_and_rewind_by_message(cli: Harness, recorder: Recorder) -> None:
    recorder.reply(
        httpx.Response(201, json=session_json("s-fork")),
        httpx.Response(200, json={"session": session_json(), "deleted_events": 3}),
    )
    assert cli.run("fork", "s-1", "--message", "0").stdout.strip() == "s-fork"
    assert recorder.json_body(0) == {"message_index": 0}
    result = cli.run("rewind", "s-1", "--message", "2")
    assert result.exit_code == 0, result.output
    assert "rewound s-1 to message 2: deleted 3 events" in result.stdout
    assert recorder.json_body(1) == {"message_index": 2, "cleanup_files": False}


def test_rewind_needs_to(cli: Harness) -> None:
    assert cli.run("rewind", "s-1").exit_code == 2
    assert cli.run("rewind", "s-1", "--to", "e-1", "--message", "1").exit_code == 2
    assert cli.run("fork", "s-1", "--message", "-1").exit_code == 2


def test_export_json_and_tar(cli: Harness, recorder: Recorder, tmp_path: Path) -> None:
    document = {
        "format": "sessionhub.export/1",
        "session": session_json(),
        "events": [event_json(1), event_json(2, payload={"events": [{"x": 1}]})],
    }
    tarball = gzip.compress(b"tar")
    one = httpx.Response(200, json=session_json(totals={"events": 2}))
    recorder.reply(one, httpx.Response(200, json=document))
    result = cli.run("export", "s-1", "-o", str(tmp_path / "s.json"), "--files", "inline")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "s.json").read_bytes()) == document
    assert recorder.requests[1].url.params["files"] == "inline"
    assert "exported s-1" in result.stderr and ": 2 events," in result.stderr
    recorder.reply(one, httpx.Response(200, content=tarball))
    result = cli.run("export", "s-1", "-o", str(tmp_path / "s.tar.gz"), "--tar")
    assert "the session had 2 events when the export began" in result.stderr
    assert (tmp_path / "s.tar.gz").read_bytes() == tarball
    assert recorder.last.url.path == "/v1/sessions/s-1/export.tar.gz"


def test_failed_export_leaves_no_file(cli: Harness, recorder: Recorder, tmp_path: Path) -> None:
    (tmp_path / "keep.json").write_text("old")
    recorder.reply(problem(404, "gone"))
    result = cli.run("export", "s-1", "-o", str(tmp_path / "keep.json"))
    assert result.exit_code == 1
    assert (tmp_path / "keep.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.json"]


def test_import(cli: Harness, recorder: Recorder, tmp_path: Path) -> None:
    path = tmp_path / "in.tar.gz"
    path.write_bytes(gzip.compress(b"x" * 1000))
    recorder.reply(httpx.Response(201, json=session_json("s-imported")))
    result = cli.run("import", str(path), "--keep-ids")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "s-imported"
    assert recorder.last.headers["Content-Type"] == "application/gzip"
    assert recorder.last.url.params["keep_ids"] == "true"
    assert recorder.last.content == path.read_bytes()


def test_import_missing_file(cli: Harness, recorder: Recorder, tmp_path: Path) -> None:
    assert cli.run("import", str(tmp_path / "nope.json")).exit_code == 2
    assert recorder.requests == []


def test_tail(cli: Harness, recorder: Recorder) -> None:
    recorder.reply(httpx.Response(200, json={"items": [event_json(9), event_json(10, role=None)]}))
    result = cli.run("tail", "s-1", "-n", "2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].split()[0] == "9" and '{"text":"hello 9"}' in lines[0]
    assert lines[0].split()[1] == event_json(9)["id"]  # whole, for fork --at / rewind --to
    assert lines[0].split()[4:6] == ["message", "user"]
    assert lines[1].split()[4:6] == ["message", "-"]  # no role
    assert recorder.last.url.params["limit"] == "2"


def test_tail_follow_streams_after_the_tail(cli: Harness, recorder: Recorder) -> None:
    stream = "".join(
        f": ping\n\nid: {seq}\nevent: message\ndata: {json.dumps(event_json(seq))}\n\n"
        for seq in (11, 12)
    )
    recorder.reply(
        httpx.Response(200, json={"items": [event_json(10)]}),
        httpx.Response(200, content=stream.encode(), headers={"Content-Type": "text/event-stream"}),
        httpx.Response(200, json=session_json()),
    )
    result = cli.run("tail", "s-1", "--follow", "--json")
    assert result.exit_code == 1, result.output  # the stream ending is not a success
    assert "the server ended the stream" in result.stderr and "after seq 12" in result.stderr
    seqs = [json.loads(line)["seq"] for line in result.stdout.splitlines()]
    assert seqs == [10, 11, 12]
    stream_request = recorder.requests[1]
    assert stream_request.url.path == "/v1/sessions/s-1/stream"
    assert stream_request.url.params["since"] == "10"


def test_mounted_under_the_root_cli(cli: Harness, recorder: Recorder) -> None:
    from sessionhub.cli import app as root

    recorder.reply(page(session_json("s-root")))
    result = cli.runner.invoke(
        root,
        ["sessions", "--url", "http://hub:3", "ls"],
        obj=CliOptions(client_factory=cli.factory),
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "s-root" in result.stdout
    assert cli.targets == [("http://hub:3", None)]
