"""Session files over HTTP, and their part in fork, rewind and delete."""

from __future__ import annotations

import os
import time

import httpx
import pytest

from sessionhub.config import Settings

pytestmark = pytest.mark.anyio


async def new_session(client: httpx.AsyncClient) -> str:
    return (await client.post("/v1/sessions", json={})).json()["id"]  # type: ignore[no-any-return]


async def test_upload_list_download_delete(client: httpx.AsyncClient) -> None:
    sid = await new_session(client)
    put = await client.put(f"/v1/sessions/{sid}/files/dir/a.txt", content=b"hello")
    assert put.status_code == 201 and put.json()["size"] == 5
    listed = (await client.get(f"/v1/sessions/{sid}/files")).json()["items"]
    assert [f["path"] for f in listed] == ["dir/a.txt"]
    got = await client.get(f"/v1/sessions/{sid}/files/dir/a.txt")
    assert got.status_code == 200 and got.content == b"hello"
    assert (await client.delete(f"/v1/sessions/{sid}/files/dir/a.txt")).status_code == 204
    assert (await client.get(f"/v1/sessions/{sid}/files/dir/a.txt")).status_code == 404


@pytest.mark.parametrize("path", ["..%2Fescape", "a/..%2F..%2Fx", "%2Fetc%2Fpasswd", "a%00b"])
async def test_escaping_paths_are_400(client: httpx.AsyncClient, path: str) -> None:
    sid = await new_session(client)
    response = await client.put(f"/v1/sessions/{sid}/files/{path}", content=b"x")
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_oversized_upload_is_413(client: httpx.AsyncClient, settings: Settings) -> None:
    sid = await new_session(client)
    blob = b"x" * (settings.max_file_bytes + 1)
    response = await client.put(f"/v1/sessions/{sid}/files/big.bin", content=blob)
    assert response.status_code == 413
    assert (await client.get(f"/v1/sessions/{sid}/files")).json()["items"] == []


async def test_fork_copies_files_and_rewind_cleans_newer(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    sid = await new_session(client)
    await client.put(f"/v1/sessions/{sid}/files/old.txt", content=b"old")
    first = (await client.post(f"/v1/sessions/{sid}/events", json={"type": "note"})).json()
    past = time.time() - 60
    os.utime(settings.files_dir / app_workspace(client) / sid / "old.txt", (past, past))
    time.sleep(0.01)
    await client.post(f"/v1/sessions/{sid}/events", json={"type": "note"})
    await client.put(f"/v1/sessions/{sid}/files/new.txt", content=b"new")
    fork = (await client.post(f"/v1/sessions/{sid}/fork", json={})).json()
    forked = (await client.get(f"/v1/sessions/{fork['id']}/files")).json()["items"]
    assert sorted(f["path"] for f in forked) == ["new.txt", "old.txt"]
    rewind = await client.post(
        f"/v1/sessions/{sid}/rewind", json={"to_event_id": first["id"], "cleanup_files": True}
    )
    assert rewind.json()["deleted_files"] == ["new.txt"]
    left = (await client.get(f"/v1/sessions/{sid}/files")).json()["items"]
    assert [f["path"] for f in left] == ["old.txt"]


def app_workspace(client: httpx.AsyncClient) -> str:
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    return transport.app.state.hub.default_workspace_id  # type: ignore[attr-defined,no-any-return]


async def test_delete_removes_directory(client: httpx.AsyncClient, settings: Settings) -> None:
    sid = await new_session(client)
    await client.put(f"/v1/sessions/{sid}/files/a", content=b"1")
    directory = settings.files_dir / app_workspace(client) / sid
    assert directory.exists()
    await client.delete(f"/v1/sessions/{sid}")
    assert not directory.exists()
