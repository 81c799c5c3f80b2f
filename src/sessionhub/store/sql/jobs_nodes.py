"""Nodes, leases and the cluster secret: write jobs and reads (see ``sessionhub.core.nodes``).

A lease changes hands by compare-and-set: ``UPDATE leases SET owner = :me WHERE
resource = :r AND owner = :old``. On PostgreSQL two nodes racing for the same stale
lease both reach that row; the second waits for the first to commit, re-checks the
``WHERE`` and changes nothing, so exactly one wins. A fresh lease is an ``INSERT ...
ON CONFLICT DO NOTHING``, with the same outcome.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sessionhub.domain.errors import Unavailable
from sessionhub.domain.nodes import Lease, Node
from sessionhub.store.sql.db import Conn, Row
from sessionhub.store.sql.rows import now, ts
from sessionhub.store.sql.writer import Notice, WriteJob

NODE_COLUMNS = "id, url, started_at, heartbeat_at"
# one attempt reads, the next can only lose to a winner it then reports
CLAIM_ATTEMPTS = 3
HOLDERS_AT_ONCE = 500  # resources per lookup: well under SQLite's bound-parameter limit


def node_from_row(row: Row) -> Node:
    return Node(
        id=row["id"], url=row["url"], started_at=ts(row["started_at"]),
        heartbeat_at=ts(row["heartbeat_at"]),
    )  # fmt: skip


async def find_node(conn: Conn, node_id: str) -> Node | None:
    row = await conn.fetchrow(f"SELECT {NODE_COLUMNS} FROM nodes WHERE id = :id", {"id": node_id})
    return None if row is None else node_from_row(row)


async def lease_holders(conn: Conn, resources: list[str]) -> dict[str, Node]:
    """The holders of those of ``resources`` that are leased, in one query."""
    marks = ", ".join(f":r{i}" for i in range(len(resources)))
    rows = await conn.fetch(
        "SELECT l.resource, n.id, n.url, n.started_at, n.heartbeat_at FROM leases l "
        f"JOIN nodes n ON n.id = l.owner WHERE l.resource IN ({marks})",
        {f"r{i}": resource for i, resource in enumerate(resources)},
    )
    return {row["resource"]: node_from_row(row) for row in rows}


@dataclass
class BeatNode(WriteJob[Node]):
    """Register the node, or record its heartbeat (and its URL, which may change)."""

    node_id: str
    url: str

    async def run(self, conn: Conn, notices: list[Notice]) -> Node:
        stamp = now()
        changed = await conn.execute(
            "UPDATE nodes SET heartbeat_at = :t, url = :u WHERE id = :id",
            {"t": stamp, "u": self.url, "id": self.node_id},
        )
        if not changed:
            await conn.execute(
                f"INSERT INTO nodes ({NODE_COLUMNS}) VALUES (:id, :u, :t, :t)",
                {"t": stamp, "u": self.url, "id": self.node_id},
            )
        node = await find_node(conn, self.node_id)
        if node is None:
            raise Unavailable(f"node {self.node_id} could not be registered")
        return node


@dataclass
class RemoveNode(WriteJob[int]):
    """A clean shutdown: the node's leases are handed back and its row goes."""

    node_id: str

    async def run(self, conn: Conn, notices: list[Notice]) -> int:
        released = await conn.execute("DELETE FROM leases WHERE owner = :id", {"id": self.node_id})
        await conn.execute("DELETE FROM nodes WHERE id = :id", {"id": self.node_id})
        return released


@dataclass
class ReleaseLease(WriteJob[bool]):
    resource: str
    node_id: str

    async def run(self, conn: Conn, notices: list[Notice]) -> bool:
        gone = await conn.execute(
            "DELETE FROM leases WHERE resource = :r AND owner = :o",
            {"r": self.resource, "o": self.node_id},
        )
        return gone > 0


@dataclass
class ClaimLease(WriteJob[Lease]):
    """Take ``resource`` unless a live node (heartbeat at or after ``stale_before``)
    holds it; the answer names whoever holds it afterwards."""

    resource: str
    node_id: str
    stale_before: datetime

    async def run(self, conn: Conn, notices: list[Notice]) -> Lease:
        me = await find_node(conn, self.node_id)
        if me is None:
            raise Unavailable(f"node {self.node_id} is not registered")
        for _ in range(CLAIM_ATTEMPTS):
            if await self._insert(conn):
                return Lease(resource=self.resource, owner=me)
            row = await conn.fetchrow(
                "SELECT owner FROM leases WHERE resource = :r", {"r": self.resource}
            )
            if row is None:
                continue  # released meanwhile: insert again
            holder = await find_node(conn, row["owner"])
            if holder is not None and (holder.id == me.id or self._live(holder)):
                return Lease(resource=self.resource, owner=holder)
            if await self._take(conn, row["owner"]):
                return Lease(resource=self.resource, owner=me, taken_over=True)
        raise Unavailable(f"the lease on {self.resource} kept changing hands")

    def _live(self, node: Node) -> bool:
        return node.heartbeat_at >= self.stale_before

    async def _insert(self, conn: Conn) -> bool:
        inserted = await conn.execute(
            "INSERT INTO leases (resource, owner, acquired_at) VALUES (:r, :o, :t) "
            "ON CONFLICT (resource) DO NOTHING",
            {"r": self.resource, "o": self.node_id, "t": now()},
        )
        return inserted > 0

    async def _take(self, conn: Conn, old: str) -> bool:
        taken = await conn.execute(
            "UPDATE leases SET owner = :o, acquired_at = :t WHERE resource = :r AND owner = :old",
            {"r": self.resource, "o": self.node_id, "t": now(), "old": old},
        )
        return taken > 0


@dataclass
class ClusterSecret(WriteJob[str]):
    """The secret nodes forward requests with: made once, by whichever node is first."""

    name: str = "forward"

    async def run(self, conn: Conn, notices: list[Notice]) -> str:
        await conn.execute(
            "INSERT INTO cluster_secrets (name, secret) VALUES (:n, :s) "
            "ON CONFLICT (name) DO NOTHING",
            {"n": self.name, "s": secrets.token_urlsafe(32)},
        )
        secret = await conn.fetchval(
            "SELECT secret FROM cluster_secrets WHERE name = :n", {"n": self.name}
        )
        return str(secret)
