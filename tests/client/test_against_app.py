"""The async client against the real app, in-process (``httpx.ASGITransport``).

This checks the client and the server agree on the contract: paths, bodies,
status codes and problem documents. Streams are covered by the live-server test.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from sessionhub import (
    AsyncClient,
    Conflict,
    EventCreate,
    Invalid,
    NotFound,
    PreconditionFailed,
    RunActive,
    RunStatus,
    SeqMismatch,
    Unauthorized,
    Unsupported,
)
from sessionhub.api.app import create_app
from sessionhub.config import Settings

pytestmark = pytest.mark.anyio


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[AsyncClient]:
    """The SDK over the project's ``app`` fixture (SQLite and PostgreSQL, no auth)."""
    transport = httpx.ASGITransport(app=app)
    async with AsyncClient(base_url="http://hub.test", transport=transport) as c:
        yield c


async def test_health(api: AsyncClient) -> None:
    assert await api.health() == {"status": "ok"}


async def test_auth(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    """With auth on, the key the server prints works and a missing or wrong one is refused."""
    application = create_app(settings.model_copy(update={"no_auth": False}))
    async with application.router.lifespan_context(application):
        printed = capsys.readouterr().out
        key = next(
            line.split(": ", 1)[1] for line in printed.splitlines() if "admin API key" in line
        )
        transport = httpx.ASGITransport(app=application)
        async with AsyncClient(
            base_url="http://hub.test", api_key=key.strip(), transport=transport
        ) as admin:
            created = await admin.create_key(name="ci")
            assert created.key and not created.admin
            assert "ci" in [k.name for k in await admin.list_keys()]
            await admin.revoke_key(created.id)
        for bad_key in (None, "wrong", created.key):
            async with AsyncClient(
                base_url="http://hub.test", api_key=bad_key, transport=transport
            ) as c:
                with pytest.raises(Unauthorized):
                    await c.list_sessions()


async def test_session_lifecycle(api: AsyncClient) -> None:
    first = await api.create_session(title="T", metadata={"team": "a"}, idempotency_key="idem-1")
    again = await api.create_session(title="T", metadata={"team": "a"}, idempotency_key="idem-1")
    assert again.id == first.id
    assert (await api.get_session(first.id)).title == "T"

    updated = await api.update_session(first.id, title="U", if_version=first.version)
    assert (updated.title, updated.version) == ("U", first.version + 1)
    with pytest.raises(PreconditionFailed) as stale:
        await api.update_session(first.id, title="V", if_version=first.version)
    assert stale.value.current_version == updated.version
    cleared = await api.update_session(first.id, title=None)
    assert cleared.title is None

    await api.delete_session(first.id)
    with pytest.raises(NotFound):
        await api.get_session(first.id)


async def test_listing_filters_and_pages(api: AsyncClient) -> None:
    made = [await api.create_session(metadata={"g": "x", "n": str(i)}) for i in range(5)]
    other = await api.create_session(name="other")
    page = await api.list_sessions(metadata={"g": "x"}, limit=2)
    assert len(page.items) == 2 and page.next_cursor is not None
    listed = [s.id async for s in api.iter_sessions(metadata={"g": "x"}, limit=2)]
    assert sorted(listed) == sorted(s.id for s in made)
    assert listed == [s.id for s in reversed(made)]  # newest first
    only = await api.list_sessions(metadata={"n": "3"})
    assert [s.id for s in only.items] == [made[3].id]
    by_name = await api.list_sessions(name="other", kind="generic")
    assert [s.id for s in by_name.items] == [other.id]


async def test_events(api: AsyncClient) -> None:
    session = await api.create_session()
    first = await api.append_event(
        session.id, type="message", role="user", payload={"t": "hi"}, expected_seq=0
    )
    assert first.seq == 1
    with pytest.raises(SeqMismatch) as info:
        await api.append_event(session.id, type="message", expected_seq=0)
    assert info.value.current_seq == 1
    batch = await api.append_events(
        session.id,
        [EventCreate(type="tool_call", payload={"n": i}, input_tokens=2) for i in range(4)],
        expected_seq=1,
    )
    assert [e.seq for e in batch] == [2, 3, 4, 5]
    page = await api.list_events(session.id, after=1, limit=2)
    assert [e.seq for e in page.items] == [2, 3]
    assert [e.seq async for e in api.iter_events(session.id, limit=2)] == [1, 2, 3, 4, 5]
    assert [e.seq for e in await api.tail_events(session.id, limit=2)] == [4, 5]
    assert (await api.get_event(session.id, batch[0].id)).payload == {"n": 0}
    totals = (await api.get_session(session.id)).totals
    assert (totals.events, totals.input_tokens) == (5, 8)


async def test_fork_rewind_and_files(api: AsyncClient, tmp_path: Path) -> None:
    session = await api.create_session()
    events = await api.append_events(session.id, [{"type": "message"} for _ in range(4)])
    data = b"\x00\x01" * 100_000
    (tmp_path / "blob").write_bytes(data)
    info = await api.upload_file(session.id, "dir/blob one.bin", file=tmp_path / "blob")
    assert (info.path, info.size) == ("dir/blob one.bin", len(data))
    assert await api.download_file(session.id, "dir/blob one.bin") == data
    assert [f.path for f in await api.list_files(session.id)] == ["dir/blob one.bin"]
    with pytest.raises(Invalid):
        await api.upload_file(session.id, "../escape", b"x")

    fork = await api.fork_session(session.id, at_event_id=events[1].id, title="fork")
    assert (fork.forked_from, fork.last_seq, fork.title) == (session.id, 2, "fork")
    assert [f.path for f in await api.list_files(fork.id)] == ["dir/blob one.bin"]

    result = await api.rewind_session(session.id, to_event_id=events[0].id)
    # A rewind never reuses a seq: last_seq stays, the events are gone.
    assert (result.deleted_events, result.session.totals.events) == (3, 1)
    assert [e.seq for e in await api.tail_events(session.id)] == [1]
    await api.delete_file(session.id, "dir/blob one.bin")
    assert await api.list_files(session.id) == []
    with pytest.raises(NotFound):
        await api.download_file(session.id, "dir/blob one.bin")


async def test_export_and_import(api: AsyncClient, tmp_path: Path) -> None:
    session = await api.create_session(title="exported")
    await api.append_events(
        session.id, [{"type": "message", "payload": {"i": i}} for i in range(3)]
    )
    await api.upload_file(session.id, "notes.txt", b"hello")

    document = await api.export_session(session.id, files="inline")
    assert document["format"] == "sessionhub.export/1"
    assert len(document["events"]) == 3

    out = io.BytesIO()
    written = await api.export_session_to(session.id, out, files="inline")
    assert written == len(out.getvalue())
    assert json.loads(out.getvalue())["session"]["id"] == session.id

    copy = await api.import_session(document)
    assert copy.id != session.id and copy.title == "exported" and copy.last_seq == 3
    path = tmp_path / "export.json"
    path.write_bytes(out.getvalue())
    from_file = await api.import_session(path)
    assert from_file.last_seq == 3

    tar = tmp_path / "export.tar.gz"
    with tar.open("wb") as f:
        await api.download_export_tar(session.id, f)
    from_tar = await api.import_session(tar)
    assert from_tar.last_seq == 3
    assert await api.download_file(from_tar.id, "notes.txt") == b"hello"

    await api.delete_session(session.id)
    kept = await api.import_session(tar, keep_ids=True)
    assert kept.id == session.id
    with pytest.raises(Conflict):
        await api.import_session(tar, keep_ids=True)


async def test_runs_and_cancel(api: AsyncClient) -> None:
    generic = await api.create_session()
    with pytest.raises(Unsupported, match="do not support runs"):
        await api.start_run(generic.id, input={"x": 1})

    session = await api.create_session(kind="test-wait")
    run = await api.start_run(session.id, input={"x": 1})
    assert (run.session_id, run.status, run.input) == (session.id, RunStatus.running, {"x": 1})
    with pytest.raises(RunActive):
        await api.start_run(session.id)
    result = await api.cancel(session.id)
    assert (result.cancelled, result.run_id) == (True, run.id)
    assert (await api.cancel(session.id)).cancelled is False
