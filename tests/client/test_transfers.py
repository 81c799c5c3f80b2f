"""Export, import and session files: streamed bodies, progress, path quoting."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import httpx
import pytest

from sessionhub import Client, NotFound
from tests.client.conftest import Recorder, problem, session_json

EXPORT = {"format": "sessionhub.export/1", "session": session_json(), "events": [], "files": []}


def test_export_session_parses_the_document(client: Client, recorder: Recorder) -> None:
    recorder.reply(httpx.Response(200, json=EXPORT))
    assert client.export_session("s-1", files="inline") == EXPORT
    assert recorder.last.url.path == "/v1/sessions/s-1/export"
    assert recorder.last.url.params["files"] == "inline"


def test_export_session_to_streams_into_a_file_with_progress(
    client: Client, recorder: Recorder
) -> None:
    body = json.dumps(EXPORT).encode() * 50
    chunks = [body[i : i + 1000] for i in range(0, len(body), 1000)]
    recorder.reply(
        httpx.Response(200, content=iter(chunks), headers={"Content-Length": str(len(body))})
    )
    out = io.BytesIO()
    seen: list[tuple[int, int | None]] = []
    written = client.export_session_to("s-1", out, progress=lambda d, t: seen.append((d, t)))
    assert written == len(body)
    assert out.getvalue() == body
    assert seen[-1] == (len(body), len(body))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert len(seen) == len(chunks)
    assert recorder.last.url.params["files"] == "none"


def test_export_without_length_reports_unknown_total(client: Client, recorder: Recorder) -> None:
    recorder.reply(httpx.Response(200, content=iter([b"{}", b""])))
    seen: list[tuple[int, int | None]] = []
    client.export_session_to("s-1", io.BytesIO(), progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (2, None)


def test_export_error_is_mapped_and_nothing_is_written(client: Client, recorder: Recorder) -> None:
    recorder.reply(problem(404, "session s-9 not found"))
    out = io.BytesIO()
    with pytest.raises(NotFound, match="s-9"):
        client.export_session_to("s-9", out)
    assert out.getvalue() == b""


def test_download_export_tar(client: Client, recorder: Recorder) -> None:
    tarball = gzip.compress(b"pretend tar")
    recorder.reply(
        httpx.Response(200, content=tarball, headers={"Content-Type": "application/gzip"})
    )
    out = io.BytesIO()
    assert client.download_export_tar("s-1", out) == len(tarball)
    assert out.getvalue() == tarball
    assert recorder.last.url.path == "/v1/sessions/s-1/export.tar.gz"
    assert recorder.last.headers["Accept"] == "application/gzip"


def test_import_from_a_document(client: Client, recorder: Recorder) -> None:
    recorder.reply(httpx.Response(201, json=session_json("s-new")))
    assert client.import_session(EXPORT, keep_ids=True).id == "s-new"
    assert recorder.last.url.path == "/v1/sessions/import"
    assert recorder.last.url.params["keep_ids"] == "true"
    assert recorder.last.headers["Content-Type"] == "application/json"
    assert recorder.json_body() == EXPORT


def test_import_streams_a_tarball_from_disk(
    client: Client, recorder: Recorder, tmp_path: Path
) -> None:
    tarball = gzip.compress(b"x" * 300_000)  # larger than one read chunk
    path = tmp_path / "export.tar.gz"
    path.write_bytes(tarball)
    recorder.reply(httpx.Response(201, json=session_json("s-new")))
    seen: list[tuple[int, int | None]] = []
    session = client.import_session(path, progress=lambda d, t: seen.append((d, t)))
    assert session.id == "s-new"
    request = recorder.last
    assert request.headers["Content-Type"] == "application/gzip"
    assert request.headers["Content-Length"] == str(len(tarball))
    assert "Transfer-Encoding" not in request.headers
    assert request.content == tarball
    assert request.url.params["keep_ids"] == "false"
    assert seen[-1] == (len(tarball), len(tarball))


def test_import_json_file_object(client: Client, recorder: Recorder) -> None:
    recorder.reply(httpx.Response(201, json=session_json()))
    client.import_session(io.BytesIO(json.dumps(EXPORT).encode()))
    assert recorder.last.headers["Content-Type"] == "application/json"
    assert recorder.json_body() == EXPORT


def test_upload_bytes_to_a_quoted_path(client: Client, recorder: Recorder) -> None:
    info = {"path": "dir/a b.txt", "size": 5, "modified_at": "2025-01-02T03:04:05Z"}
    recorder.reply(httpx.Response(201, json=info))
    result = client.upload_file("s-1", "dir/a b.txt", b"hello")
    assert (result.path, result.size) == ("dir/a b.txt", 5)
    request = recorder.last
    assert request.method == "PUT"
    assert request.url.raw_path == b"/v1/sessions/s-1/files/dir/a%20b.txt"
    assert request.content == b"hello"
    assert request.headers["Content-Type"] == "application/octet-stream"


def test_upload_streams_a_file_with_progress(
    client: Client, recorder: Recorder, tmp_path: Path
) -> None:
    data = bytes(range(256)) * 1000
    (tmp_path / "blob").write_bytes(data)
    info = {"path": "blob", "size": len(data), "modified_at": "2025-01-02T03:04:05Z"}
    recorder.reply(httpx.Response(201, json=info))
    seen: list[tuple[int, int | None]] = []
    client.upload_file(
        "s-1", "blob", file=tmp_path / "blob", progress=lambda d, t: seen.append((d, t))
    )
    assert recorder.last.content == data
    assert recorder.last.headers["Content-Length"] == str(len(data))
    assert seen[-1] == (len(data), len(data))


def test_upload_needs_exactly_one_source(client: Client) -> None:
    with pytest.raises(TypeError, match="exactly one"):
        client.upload_file("s-1", "x")
    with pytest.raises(TypeError, match="exactly one"):
        client.upload_file("s-1", "x", b"a", file=io.BytesIO(b"b"))


def test_dot_dot_segments_are_sent_literally(client: Client, recorder: Recorder) -> None:
    recorder.reply(problem(400, "path escapes the session directory", title="Path Not Allowed"))
    with pytest.raises(Exception, match="escapes"):
        client.download_file("s-1", "../../etc/passwd")
    assert recorder.last.url.raw_path == b"/v1/sessions/s-1/files/%2E%2E/%2E%2E/etc/passwd"


def test_list_download_delete_files(client: Client, recorder: Recorder) -> None:
    info = {"path": "a.txt", "size": 3, "modified_at": "2025-01-02T03:04:05Z"}
    recorder.reply(
        httpx.Response(200, json={"items": [info]}),
        httpx.Response(200, content=b"abc"),
        httpx.Response(204),
    )
    assert [f.path for f in client.list_files("s-1")] == ["a.txt"]
    assert client.download_file("s-1", "a.txt") == b"abc"
    assert recorder.requests[1].headers["Accept"] == "*/*"
    client.delete_file("s-1", "a.txt")
    assert (recorder.last.method, recorder.last.url.path) == (
        "DELETE",
        "/v1/sessions/s-1/files/a.txt",
    )
