"""Idle-kernel culling: shut down kernels nobody has used for a while.

A kernel is idle when it is alive, not busy or restarting, has no websocket client
and no execution in flight, is not being (re)started or replayed, and has seen no
traffic for ``timeout`` seconds. Culling stops the process only; the sessions using
the kernel keep its id and start it again on next use, as after a server restart.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from sessionhub.core.nodes import kernel_resource
from sessionhub.kinds.kernel.state import POOL_OWNER, KernelProcesses

log = logging.getLogger(__name__)


class IdleCuller:
    def __init__(self, driver: KernelProcesses, timeout: float) -> None:
        self.driver, self.timeout = driver, timeout

    def idle(self, now: datetime) -> list[str]:
        driver = self.driver
        return [
            state.id
            for state in list(driver.kernels.values())
            if state.owner != POOL_OWNER  # warm kernels wait in the pool on purpose
            and state.execution_state not in ("busy", "restarting")
            and not state.connections
            and not state.pending
            and not driver.held(state.id)
            and (now - state.last_activity).total_seconds() > self.timeout
            and driver.alive(state.id)
        ]

    async def cull(self) -> list[str]:
        culled = self.idle(datetime.now(UTC))
        for kernel_id in culled:
            log.info("kernel %s: culled after %.1f s idle", kernel_id, self.timeout)
            workspace_id = self.driver.state(kernel_id).owner
            await self.driver.shutdown(kernel_id)
            if workspace_id:  # its lease goes too: the next request may start it anywhere
                await self.driver.host.release_lease(kernel_resource(workspace_id, kernel_id))
        return culled

    async def run(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.cull()
            except Exception:
                log.exception("the kernel culler failed; retrying next round")
