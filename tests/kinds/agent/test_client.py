"""Fork and rewind by message index through the Python client, against the real app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from sessionhub import AsyncClient, Invalid, Unsupported
from tests.kinds.agent.conftest import TRANSCRIPT

pytestmark = pytest.mark.anyio


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(base_url="http://hub.test", transport=httpx.ASGITransport(app=app)) as c:
        yield c


async def test_fork_and_rewind_by_message_index(api: AsyncClient) -> None:
    session = await api.create_session(kind="agent")
    appended = await api.append_events(session.id, TRANSCRIPT)
    fork = await api.fork_session(session.id, message_index=0, title="first turn")
    assert (fork.title, fork.forked_at_event, fork.totals.events) == ("first turn",
                                                                      appended[0].id, 1)  # fmt: skip
    result = await api.rewind_session(session.id, message_index=1, cleanup_files=True)
    assert result.deleted_events == 3 and result.session.totals.events == 4
    with pytest.raises(Invalid, match="out of range: the session has 2 messages"):
        await api.fork_session(session.id, message_index=2)
    with pytest.raises(Invalid, match="not both"):
        await api.rewind_session(session.id, to_event_id=appended[0].id, message_index=0)


async def test_a_run_the_rules_refuse(api: AsyncClient) -> None:
    session = await api.create_session(kind="agent")
    with pytest.raises(Invalid, match="text: message content is required"):
        await api.start_run(session.id, input={"text": ""})
    generic = await api.create_session(kind="generic")
    with pytest.raises(Unsupported):
        await api.rewind_session(generic.id, message_index=0)
