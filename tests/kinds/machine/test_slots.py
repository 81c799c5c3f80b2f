"""The machine kind's concurrency limit at the store's depth: two servers, one database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from sessionhub.domain import errors
from sessionhub.domain.attributes.machine import MachineAttributes
from sessionhub.domain.machines import Machine, MachineCreate
from sessionhub.domain.models import Session, SessionCreate
from sessionhub.kinds.machine.driver import CLAIMED_AT, slot_claim
from sessionhub.store.sql.store import open_store

pytestmark = pytest.mark.anyio
NOW = datetime.now(UTC)


def test_the_claim_names_the_kinds_attributes() -> None:
    machine_id = "m1"
    spec = MachineCreate(name="solo", command="x {port}", max_sessions=3)
    machine = Machine(**spec.model_dump(), id=machine_id, workspace_id="w", created_at=NOW)
    claim = slot_claim(machine)
    assert claim.pool == machine_id and claim.limit == 3
    assert claim.holder == {"machine_ref": machine_id, "end_time": None}
    assert claim.claimed_key == CLAIMED_AT and CLAIMED_AT in MachineAttributes.model_fields
    lease = MachineAttributes(machine_ref=machine_id, end_time=None).stored()
    assert claim.held_by(lease) and claim.held_by({"machine_ref": machine_id})
    assert not claim.held_by({**lease, "end_time": "2030-01-01T00:00:00Z"})
    assert not claim.held_by({"machine_ref": "another"})


async def test_two_servers_race_for_the_last_slot(database_url: str) -> None:
    """Each round, two stores (as two server processes) claim a max_sessions=1 machine at
    once for different leases: exactly one wins, the other is a Conflict."""
    first, second = open_store(database_url), open_store(database_url)
    await first.open()
    await second.open()
    try:
        ws = (await first.create_workspace(name="w")).id
        spec = MachineCreate(name="solo", command="x {port}", max_sessions=1)
        machine = await first.create_machine(workspace_id=ws, spec=spec)
        claim = slot_claim(machine)
        for _ in range(5):
            leases = MachineAttributes(machine_id=machine.id, machine_ref=machine.id)
            create = SessionCreate(kind="machine", attributes=leases.stored())
            a, b = [(await first.create_session(workspace_id=ws, spec=create)).session.id
                    for _ in range(2)]  # fmt: skip
            results = await asyncio.gather(
                first.claim_slot(workspace_id=ws, session_id=a, claim=claim),
                second.claim_slot(workspace_id=ws, session_id=b, claim=claim),
                return_exceptions=True,
            )
            won = [r for r in results if isinstance(r, Session)]
            lost = [r for r in results if isinstance(r, errors.Conflict)]
            assert len(won) == 1 and len(lost) == 1, results
            assert MachineAttributes.of(won[0]).slot_claimed_at is not None
            assert "'solo' is at its limit of 1" in lost[0].detail
            ended = MachineAttributes(end_time=MachineAttributes.of(won[0]).slot_claimed_at)
            await first.set_attributes(
                workspace_id=ws, session_id=won[0].id, attributes=ended.stored()
            )
            loser = b if won[0].id == a else a  # ended: the next round's leases may claim
            await first.set_attributes(workspace_id=ws, session_id=loser, attributes=ended.stored())
    finally:
        await first.close()
        await second.close()
