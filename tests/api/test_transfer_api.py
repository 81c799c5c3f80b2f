"""Export (streamed JSON, tar.gz) and import, including across databases."""

from __future__ import annotations

import gzip
import io
import tarfile
from typing import Any

import httpx
import orjson
import pytest

from sessionhub.api.app import create_app
from sessionhub.config import Settings

pytestmark = pytest.mark.anyio


async def seeded(client: httpx.AsyncClient) -> str:
    sid = (await client.post("/v1/sessions", json={"title": "t", "metadata": {"a": "1"}})).json()[
        "id"
    ]
    batch = {"events": [{"type": "message", "role": "user", "payload": {"i": i}, "cost": 0.5}
                        for i in range(2500)]}  # fmt: skip
    await client.post(f"/v1/sessions/{sid}/events/batch", json={"events": batch["events"][:1000]})
    await client.post(
        f"/v1/sessions/{sid}/events/batch", json={"events": batch["events"][1000:2000]}
    )
    await client.post(f"/v1/sessions/{sid}/events/batch", json={"events": batch["events"][2000:]})
    await client.put(f"/v1/sessions/{sid}/files/notes/a.txt", content=b"file body")
    return sid


def comparable(doc: dict[str, Any]) -> dict[str, Any]:
    session = {
        k: v
        for k, v in doc["session"].items()
        if k not in ("workspace_id", "version", "updated_at")
    }
    files = [{k: v for k, v in f.items() if k != "modified_at"} for f in doc["files"]]
    return {"session": session, "events": doc["events"], "files": files}


async def test_export_json_streams_everything(client: httpx.AsyncClient) -> None:
    sid = await seeded(client)
    response = await client.get(f"/v1/sessions/{sid}/export", params={"files": "inline"})
    assert response.status_code == 200
    doc = orjson.loads(response.content)
    assert doc["format"] == "sessionhub.export/1"
    assert [e["seq"] for e in doc["events"]] == list(range(1, 2501))
    assert doc["files"][0]["path"] == "notes/a.txt"
    plain = orjson.loads((await client.get(f"/v1/sessions/{sid}/export")).content)
    assert plain["files"] == []


async def test_import_new_ids_and_kept_ids(client: httpx.AsyncClient) -> None:
    sid = await seeded(client)
    exported = (await client.get(f"/v1/sessions/{sid}/export", params={"files": "inline"})).content
    copy = await client.post(
        "/v1/sessions/import", content=exported, headers={"content-type": "application/json"}
    )
    assert copy.status_code == 201, copy.text
    new = copy.json()
    assert new["id"] != sid and new["totals"] == orjson.loads(exported)["session"]["totals"]
    kept = await client.post("/v1/sessions/import", params={"keep_ids": "true"}, content=exported)
    assert kept.status_code == 409
    assert (await client.get(f"/v1/sessions/{new['id']}/files/notes/a.txt")).content == b"file body"


async def test_tar_export_and_import(client: httpx.AsyncClient) -> None:
    sid = await seeded(client)
    response = await client.get(f"/v1/sessions/{sid}/export.tar.gz")
    assert response.status_code == 200 and response.headers["content-type"] == "application/gzip"
    with tarfile.open(fileobj=io.BytesIO(response.content)) as tar:
        names = tar.getnames()
    assert {"session.json", "events.jsonl", "files/notes/a.txt"} <= set(names)
    back = await client.post(
        "/v1/sessions/import",
        content=response.content,
        headers={"content-type": "application/gzip"},
    )
    assert back.status_code == 201 and back.json()["totals"]["events"] == 2500


@pytest.mark.parametrize(
    "body",
    [b"{}", b"not json", b'{"format": "other", "session": {}, "events": []}', gzip.compress(b"x")],
)
async def test_bad_imports_are_400_and_leave_nothing(
    client: httpx.AsyncClient, body: bytes
) -> None:
    content_type = "application/gzip" if body.startswith(b"\x1f\x8b") else "application/json"
    response = await client.post(
        "/v1/sessions/import", content=body, headers={"content-type": content_type}
    )
    assert response.status_code == 400, response.text
    assert (await client.get("/v1/sessions")).json()["items"] == []


@pytest.mark.postgres
async def test_sqlite_export_imports_into_postgres_and_back_identical(
    tmp_path: Any, postgres_url: str
) -> None:
    sqlite_settings = Settings(
        data_dir=tmp_path / "a", no_auth=True, database_url=f"sqlite:///{tmp_path}/a.db"
    )
    pg_settings = Settings(data_dir=tmp_path / "b", no_auth=True, database_url=postgres_url)
    async with served(sqlite_settings) as lite, served(pg_settings) as pg:
        sid = await seeded(lite)
        original = (
            await lite.get(f"/v1/sessions/{sid}/export", params={"files": "inline"})
        ).content
        moved = await pg.post("/v1/sessions/import", params={"keep_ids": "true"}, content=original)
        assert moved.status_code == 201
        via_pg = (await pg.get(f"/v1/sessions/{sid}/export", params={"files": "inline"})).content
        await lite.delete(f"/v1/sessions/{sid}")
        back = await lite.post("/v1/sessions/import", params={"keep_ids": "true"}, content=via_pg)
        assert back.status_code == 201
        again = (await lite.get(f"/v1/sessions/{sid}/export", params={"files": "inline"})).content
    assert comparable(orjson.loads(via_pg)) == comparable(orjson.loads(original))
    assert comparable(orjson.loads(again)) == comparable(orjson.loads(original))


class served:
    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)

    async def __aenter__(self) -> httpx.AsyncClient:
        self.lifespan = self.app.router.lifespan_context(self.app)
        await self.lifespan.__aenter__()
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://t"
        )
        return self.http

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()
        await self.lifespan.__aexit__(None, None, None)


@pytest.mark.parametrize("content", ["~\u0011XD\u00d6", "not base64!", "QUJ"])
async def test_import_with_a_file_not_in_base64_is_400(
    client: httpx.AsyncClient, content: str
) -> None:
    sid = (await client.post("/v1/sessions", json={})).json()["id"]
    document = orjson.loads((await client.get(f"/v1/sessions/{sid}/export")).content)
    document["files"] = [{"path": "a.txt", "size": 3, "content_base64": content}]
    response = await client.post("/v1/sessions/import", json=document)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "'a.txt': content_base64 is not base64" in response.json()["detail"]
