"""This server process as a node: its row, its heartbeat, and the leases it holds.

Every server process registers a node (id, the URL other nodes reach it at) and
heartbeats every ``node_heartbeat_interval`` seconds. A host-bound resource (a
kernel) is leased to one node; ``claim`` answers who holds it, taking it over when
the holder has not heartbeat for ``node_takeover_timeout`` seconds (compare-and-set
in the store: one winner). A clean shutdown hands the node's leases back, so the next
claim elsewhere wins at once instead of after the timeout. PostgreSQL is the only
coordination: no broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime, timedelta

from sessionhub.config import Settings
from sessionhub.domain.nodes import Lease, Node
from sessionhub.store.base import SessionStore

log = logging.getLogger(__name__)


def new_node_id() -> str:
    return f"node-{uuid.uuid4().hex[:16]}"


def kernel_resource(workspace_id: str, kernel_id: str) -> str:
    """The lease name of a kernel (kernel ids are chosen per workspace)."""
    return f"kernel:{workspace_id}:{kernel_id}"


class NodeService:
    """This process's node: register, heartbeat, claim and release leases, leave."""

    def __init__(self, store: SessionStore, settings: Settings, node_id: str) -> None:
        self._store = store
        self.id = node_id
        self.url = settings.advertised_url
        self.interval = settings.node_heartbeat_interval
        self.takeover_timeout = settings.node_takeover_timeout
        self.secret = ""
        self._beating: asyncio.Task[None] | None = None

    async def open(self, url: str | None = None) -> Node:
        """Register (at ``url`` when the server listens somewhere of its own) and beat."""
        self.url = url or self.url
        node = await self._store.beat_node(node_id=self.id, url=self.url)
        self.secret = await self._store.cluster_secret()
        self._beating = asyncio.create_task(self._beat_forever(), name=f"heartbeat-{self.id}")
        log.info("node %s at %s", self.id, self.url)
        return node

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self._store.beat_node(node_id=self.id, url=self.url)
            except Exception:
                log.exception("node %s: heartbeat failed; retrying", self.id)

    async def claim(self, resource: str) -> Lease:
        """Who holds ``resource`` now: this node (taking it over from a silent one) or
        another live node."""
        stale_before = datetime.now(UTC) - timedelta(seconds=self.takeover_timeout)
        lease = await self._store.claim_lease(
            resource=resource, node_id=self.id, stale_before=stale_before
        )
        if lease.taken_over:
            log.info("node %s took over %s", self.id, resource)
        return lease

    async def held_elsewhere(self, resources: list[str]) -> dict[str, Node]:
        """Those of ``resources`` another live node holds, and that node, read without
        claiming (left out: held by nobody, by this node, or by a silent node)."""
        holders = await self._store.lease_holders(resources=resources)
        return {r: n for r, n in holders.items() if n.id != self.id and self._live(n)}

    def _live(self, node: Node) -> bool:
        return node.heartbeat_at >= datetime.now(UTC) - timedelta(seconds=self.takeover_timeout)

    def holds(self, lease: Lease) -> bool:
        return lease.owner.id == self.id

    async def release(self, resource: str) -> bool:
        return await self._store.release_lease(resource=resource, node_id=self.id)

    async def close(self) -> None:
        """Stop heartbeating and hand every lease back."""
        if self._beating is not None:
            self._beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beating
        try:
            released = await self._store.remove_node(node_id=self.id)
            log.info("node %s left; %d leases handed back", self.id, released)
        except Exception:
            log.exception("node %s: could not hand its leases back", self.id)
