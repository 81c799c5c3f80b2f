"""AsyncClient sends the same requests as Client; its own I/O paths are tested here."""

from __future__ import annotations

import gzip
import io
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from sessionhub import AsyncClient, ClientClosed, SeqMismatch, TransportError
from tests.client.conftest import BASE_URL, Recorder, event_json, problem, session_json
from tests.client.test_sse import sse_body

pytestmark = pytest.mark.anyio


async def test_create_and_get(async_client: AsyncClient, recorder: Recorder) -> None:
    recorder.reply(httpx.Response(201, json=session_json("s-2")))
    async with async_client as client:
        session = await client.create_session(kind="agent", idempotency_key="k")
    assert session.id == "s-2"
    assert recorder.last.headers["Idempotency-Key"] == "k"
    assert recorder.last.headers["Authorization"] == "Bearer sk-test-123"
    assert recorder.json_body() == {"kind": "agent"}


async def test_errors_are_mapped(async_client: AsyncClient, recorder: Recorder) -> None:
    recorder.reply(problem(409, "seq moved", current_seq=11))
    async with async_client as client:
        with pytest.raises(SeqMismatch) as info:
            await client.append_event("s-1", type="message", expected_seq=10)
    assert info.value.current_seq == 11


async def test_iter_sessions_and_events(async_client: AsyncClient, recorder: Recorder) -> None:
    recorder.reply(
        httpx.Response(200, json={"items": [session_json("a")], "next_cursor": "c1"}),
        httpx.Response(200, json={"items": [session_json("b")], "next_cursor": None}),
        httpx.Response(200, json={"items": [event_json(1)], "next_cursor": "1"}),
        httpx.Response(200, json={"items": [event_json(2)], "next_cursor": None}),
    )
    async with async_client as client:
        ids = [s.id async for s in client.iter_sessions(status="idle")]
        seqs = [e.seq async for e in client.iter_events("s-1")]
    assert (ids, seqs) == (["a", "b"], [1, 2])
    assert [r.url.params.get("cursor") for r in recorder.requests[:2]] == [None, "c1"]
    assert [r.url.params["after"] for r in recorder.requests[2:]] == ["0", "1"]


async def test_stream(async_client: AsyncClient, recorder: Recorder) -> None:
    body = sse_body(event_json(5), event_json(6))

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 5):
            yield body[i : i + 5]

    recorder.reply(
        httpx.Response(200, content=chunks(), headers={"Content-Type": "text/event-stream"})
    )
    async with async_client as client, client.stream("s-1", last_event_id="4") as stream:
        seqs = [e.seq async for e in stream]
        assert stream.last_event_id == "6"
    assert seqs == [5, 6]
    assert recorder.last.headers["Last-Event-ID"] == "4"


async def test_import_and_export_stream_through_threads(
    async_client: AsyncClient, recorder: Recorder, tmp_path: Path
) -> None:
    tarball = gzip.compress(b"y" * 200_000)
    (tmp_path / "in.tar.gz").write_bytes(tarball)
    recorder.reply(
        httpx.Response(201, json=session_json("s-new")),
        httpx.Response(200, content=tarball, headers={"Content-Length": str(len(tarball))}),
    )
    seen: list[tuple[int, int | None]] = []
    out = io.BytesIO()
    async with async_client as client:
        session = await client.import_session(tmp_path / "in.tar.gz", keep_ids=True)
        written = await client.download_export_tar(
            "s-new", out, progress=lambda d, t: seen.append((d, t))
        )
    assert session.id == "s-new"
    assert recorder.requests[0].content == tarball
    assert recorder.requests[0].headers["Content-Type"] == "application/gzip"
    assert recorder.requests[0].headers["Content-Length"] == str(len(tarball))
    assert written == len(tarball)
    assert out.getvalue() == tarball
    assert seen[-1] == (len(tarball), len(tarball))


async def test_upload_file_object(async_client: AsyncClient, recorder: Recorder) -> None:
    info = {"path": "f", "size": 3, "modified_at": "2025-01-02T03:04:05Z"}
    recorder.reply(httpx.Response(201, json=info))
    async with async_client as client:
        result = await client.upload_file("s-1", "f", file=io.BytesIO(b"abc"))
    assert result.size == 3
    assert recorder.last.content == b"abc"


async def test_closed_async_client(async_client: AsyncClient, recorder: Recorder) -> None:
    await async_client.aclose()
    with pytest.raises(ClientClosed, match="client has been closed"):
        await async_client.get_session("s-1")
    assert recorder.requests == []


async def test_async_transport_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with AsyncClient(base_url=BASE_URL, transport=httpx.MockTransport(refuse)) as client:
        with pytest.raises(TransportError):
            await client.health()
