"""Nodes and leases: heartbeats, one winner per lease, takeover of a silent node."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sessionhub.config import Settings
from sessionhub.core.nodes import NodeService, kernel_resource, new_node_id
from sessionhub.store.base import SessionStore
from sessionhub.store.sql.store import open_store

pytestmark = pytest.mark.anyio


def node_settings(tmp_path: Path, **changes: float) -> Settings:
    return Settings(data_dir=tmp_path, node_heartbeat_interval=0.05, **changes)


@pytest.fixture
async def nodes(store: SessionStore, tmp_path: Path) -> AsyncIterator[list[NodeService]]:
    """Three nodes on one store (a 0.5 s takeover timeout), closed at the end."""
    made = [
        NodeService(store, node_settings(tmp_path, node_takeover_timeout=0.5), new_node_id())
        for _ in range(3)
    ]
    for node in made:
        await node.open(f"http://127.0.0.1/{node.id}")
    try:
        yield made
    finally:
        for node in made:
            await node.close()


async def test_heartbeat_moves_forward(nodes: list[NodeService], store: SessionStore) -> None:
    a = nodes[0]
    first = await store.beat_node(node_id=a.id, url=a.url)
    await asyncio.sleep(0.3)
    lease = await a.claim("r")
    assert lease.owner.id == a.id and lease.owner.heartbeat_at > first.heartbeat_at


async def test_a_live_holder_keeps_its_lease(nodes: list[NodeService]) -> None:
    a, b, _ = nodes
    resource = kernel_resource("ws", "k1")
    assert (await a.claim(resource)).owner.id == a.id
    for _ in range(3):
        lease = await b.claim(resource)
        assert (lease.owner.id, lease.owner.url, lease.taken_over) == (a.id, a.url, False)
        await asyncio.sleep(0.3)  # longer in all than the timeout: a keeps beating


async def test_exactly_one_winner_under_concurrency(nodes: list[NodeService]) -> None:
    for round_ in range(5):
        resource = f"race-{round_}"
        leases = await asyncio.gather(*(n.claim(resource) for n in nodes for _ in range(4)))
        assert len({lease.owner.id for lease in leases}) == 1
        assert sum(lease.owner.id == n.id for lease in leases for n in nodes) == len(leases)


async def test_takeover_after_the_timeout_has_one_winner(
    store: SessionStore, tmp_path: Path
) -> None:
    settings = node_settings(tmp_path, node_takeover_timeout=0.5)
    silent = NodeService(store, settings, new_node_id())
    await store.beat_node(node_id=silent.id, url="http://silent")  # registered, never beats
    await silent.claim("kernel")
    rivals = [NodeService(store, settings, new_node_id()) for _ in range(4)]
    for rival in rivals:
        await rival.open("http://rival")
    try:
        early = await rivals[0].claim("kernel")
        assert early.owner.id == silent.id  # still within the timeout
        await asyncio.sleep(0.7)
        leases = await asyncio.gather(*(r.claim("kernel") for r in rivals))
        winners = {lease.owner.id for lease in leases}
        assert len(winners) == 1 and winners <= {r.id for r in rivals}
        assert sum(lease.taken_over for lease in leases) == 1
    finally:
        for rival in rivals:
            await rival.close()


async def test_close_hands_leases_back_and_secret_is_shared(
    nodes: list[NodeService], store: SessionStore
) -> None:
    a, b, _ = nodes
    await a.claim("x")
    await a.close()
    lease = await b.claim("x")
    assert lease.owner.id == b.id and not lease.taken_over  # no wait for the timeout
    assert a.secret and a.secret == b.secret == await store.cluster_secret()


async def test_held_elsewhere_names_live_holders_without_claiming(
    nodes: list[NodeService], store: SessionStore, tmp_path: Path
) -> None:
    a, b, _ = nodes
    silent = NodeService(store, node_settings(tmp_path), new_node_id())
    await store.beat_node(node_id=silent.id, url="http://silent")  # never beats again
    await a.claim("on-a")
    await b.claim("on-b")
    await silent.claim("on-silent")
    many = [f"free-{i}" for i in range(1200)]  # more than one lookup's worth
    await asyncio.sleep(0.6)  # past the 0.5 s timeout: the silent node is stale
    held = await a.held_elsewhere(["on-a", "on-b", "on-silent", *many])
    assert {r: n.id for r, n in held.items()} == {"on-b": b.id}
    assert held["on-b"].url == b.url
    # nothing was claimed: the silent node's lease and the free names are as they were
    assert (await store.lease_holders(resources=["on-silent", "free-0"])).keys() == {"on-silent"}


@pytest.mark.postgres
async def test_one_winner_across_connections(postgres_url: str, tmp_path: Path) -> None:
    """Nodes on separate stores (as in separate processes) racing for stale leases:
    each round, exactly one takes the lease over."""
    stores = [open_store(postgres_url, pg_writers=4) for _ in range(4)]
    for each in stores:
        await each.open()
    settings = node_settings(tmp_path, node_takeover_timeout=0.3)
    racers = [NodeService(s, settings, new_node_id()) for s in stores for _ in range(3)]
    try:
        await stores[0].beat_node(node_id="gone", url="http://gone")
        for racer in racers:
            await racer.open("http://racer")
        for round_ in range(20):
            await stores[0].claim_lease(
                resource=f"k{round_}", node_id="gone", stale_before=_long_ago()
            )
        await asyncio.sleep(0.5)
        for round_ in range(20):
            leases = await asyncio.gather(*(r.claim(f"k{round_}") for r in racers))
            assert len({lease.owner.id for lease in leases}) == 1
            assert sum(lease.taken_over for lease in leases) == 1
    finally:
        for racer in racers:
            await racer.close()
        for each in stores:
            await each.close()


def _long_ago() -> datetime:
    return datetime(2000, 1, 1, tzinfo=UTC)
