"""KernelSessions: per-server state (no singleton) and locks that are let go."""

from __future__ import annotations

import asyncio

import pytest

from sessionhub.config import Settings
from sessionhub.core.hub import open_hub
from sessionhub.domain.attributes.kernel import KernelAttributes
from sessionhub.domain.models import Session
from sessionhub.kinds.kernel.rules import KernelSessions

pytestmark = pytest.mark.anyio


async def open_at(kernels: KernelSessions, workspace_id: str, path: str) -> Session:
    return await kernels.open(
        workspace_id, path=path, type="notebook", name="", kernel_name=None, kernel_id=None
    )


async def test_opening_and_reviving_leave_no_lock_behind(settings: Settings) -> None:
    async with open_hub(settings) as hub:
        kernels = KernelSessions.of(hub.service)
        workspace = hub.default_workspace_id
        opened = await asyncio.gather(
            *(open_at(kernels, workspace, "same.ipynb") for _ in range(3)),
            open_at(kernels, workspace, "other.ipynb"),
        )
        assert len({session.id for session in opened[:3]}) == 1  # one session per path
        assert len(kernels.driver.opening) == 0

        event = await kernels.execute(workspace, opened[0].id, "1 + 1")
        assert event.payload["outputs"][0]["data"]["text/plain"] == "2"
        assert len(kernels.driver.reviving) == 0


async def test_two_servers_in_one_process_share_no_kernel_state(settings: Settings) -> None:
    other = settings.model_copy(update={"data_dir": settings.data_dir.parent / "other"})
    async with open_hub(settings) as one, open_hub(other) as two:
        first, second = KernelSessions.of(one.service), KernelSessions.of(two.service)
        assert first.driver is not second.driver
        assert KernelSessions.of(one.service).driver is first.driver

        workspace = one.default_workspace_id
        session = await open_at(first, workspace, "shared.ipynb")
        kernel_id = KernelAttributes.of(session).kernel_id
        assert first.driver.running(kernel_id)
        assert not second.driver.running(kernel_id)
        assert session.id in first.driver.users[kernel_id]
        assert not any(second.driver.users.values())

        # the other server finds the session in the shared database, its kernel not running
        [model] = await second.kernels(workspace)
        assert (model["id"], model["execution_state"]) == (kernel_id, "starting")
