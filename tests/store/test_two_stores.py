"""Two stores on one PostgreSQL, as two server processes: get-or-create by name stays atomic."""

from __future__ import annotations

import asyncio

import pytest

from sessionhub.domain.models import SessionCreate
from sessionhub.store.sql.store import open_store

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


async def test_get_or_create_by_name_across_two_stores(postgres_url: str) -> None:
    first, second = open_store(postgres_url), open_store(postgres_url)
    await first.open()
    await second.open()
    try:
        ws = (await first.create_workspace(name="w")).id
        for n in range(5):
            spec = SessionCreate(kind="kernel", name=f"nb-{n}.ipynb")
            results = await asyncio.gather(*[
                store.create_session(workspace_id=ws, spec=spec, if_exists="return")
                for store in [first, second] * 6
            ])  # fmt: skip
            assert len({r.session.id for r in results}) == 1
            assert sum(not r.replayed for r in results) == 1
    finally:
        await first.close()
        await second.close()
