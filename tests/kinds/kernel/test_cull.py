"""The idle culler: which kernels it stops, and that a culled kernel's lease goes too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from sessionhub.core.nodes import kernel_resource
from sessionhub.kinds.kernel.cull import IdleCuller
from sessionhub.kinds.kernel.state import POOL_OWNER, KernelState

pytestmark = pytest.mark.anyio
LONG_AGO = datetime.now(UTC) - timedelta(hours=1)


class FakeKernels:
    """The culler's view of the kernel driver: states, shutdown, and the host's leases."""

    def __init__(self, *states: KernelState) -> None:
        self.kernels = {s.id: s for s in states}
        self.stopped: list[str] = []
        self.released: list[str] = []
        self.host = SimpleNamespace(release_lease=self._release)

    async def _release(self, resource: str) -> None:
        self.released.append(resource)

    def state(self, kernel_id: str) -> KernelState:
        return self.kernels[kernel_id]

    def held(self, kernel_id: str) -> bool:
        return False

    def alive(self, kernel_id: str) -> bool:
        return kernel_id not in self.stopped

    async def shutdown(self, kernel_id: str) -> None:
        self.stopped.append(kernel_id)


def idle(kernel_id: str, owner: str | None, **changes: Any) -> KernelState:
    fields: dict[str, Any] = {"execution_state": "idle", "last_activity": LONG_AGO, **changes}
    return KernelState(kernel_id, "python3", owner=owner, **fields)


async def test_a_culled_kernel_hands_its_lease_back() -> None:
    kernels = FakeKernels(
        idle("k-idle", "ws1"),
        idle("k-busy", "ws1", execution_state="busy"),
        idle("k-watched", "ws1", connections=1),
        idle("k-pool", POOL_OWNER),
        idle("k-unowned", None),
        KernelState("k-fresh", "python3", execution_state="idle", owner="ws1"),
    )
    culled = await IdleCuller(kernels, timeout=60).cull()  # type: ignore[arg-type]
    assert sorted(culled) == ["k-idle", "k-unowned"]
    assert sorted(kernels.stopped) == ["k-idle", "k-unowned"]
    # the workspace's kernel lease goes with it; an unowned kernel never had one
    assert kernels.released == [kernel_resource("ws1", "k-idle")]
