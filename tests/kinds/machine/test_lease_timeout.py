"""A machine lease through the native API alone: launch, extend its timeout, stop."""

from __future__ import annotations

from datetime import datetime

import pytest

from sessionhub import Client, Conflict, Invalid, NotFound, Unsupported
from tests.kinds.machine.conftest import MachineHub
from tests.kinds.machine.support import wait_for


def seconds(stamp: object) -> float:
    return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()


def launch(hub: Client, machine: str) -> str:
    session = hub.create_session(kind="machine", attributes={"machine_id": machine})
    hub.start_run(session.id)
    wait_for(lambda: hub.get_session(session.id).attributes.get("url"))
    return session.id


def test_extend_timeout_through_the_client(machine_hub: MachineHub) -> None:
    with machine_hub.client() as hub:
        sid = launch(hub, "tiny")
        before = hub.get_session(sid).attributes
        assert "timeout_seconds" not in before and before["state"] == "ready"  # the default
        after = hub.extend_timeout(sid, add_seconds=90).attributes
        assert seconds(after["timeout_end"]) - seconds(before["timeout_end"]) == 90
        assert after["timeout_seconds"] == 15 * 60 + 90
        plain = hub.create_session(title="not a machine")
        with pytest.raises(Unsupported):
            hub.extend_timeout(plain.id, add_seconds=5)
        with pytest.raises(NotFound):
            hub.extend_timeout("no-such-session", add_seconds=5)
        with pytest.raises(Invalid):
            hub.extend_timeout(sid, add_seconds=-1)
        hub.cancel(sid)
        ended = wait_for(lambda: hub.get_session(sid).attributes.get("end_time"))
        assert seconds(ended) >= seconds(after["start_time"])
        with pytest.raises(NotFound):  # the lease has ended
            hub.extend_timeout(sid, add_seconds=5)


def test_a_machine_at_its_limit_refuses_another_lease(machine_hub: MachineHub) -> None:
    with machine_hub.client() as hub:
        first = launch(hub, "solo")
        second = hub.create_session(kind="machine", attributes={"machine_id": "solo"})
        with pytest.raises(Conflict, match="'solo' is at its limit of 1"):
            hub.start_run(second.id)
        hub.cancel(first)
        wait_for(lambda: hub.get_session(first).attributes.get("end_time"))
        hub.start_run(second.id)  # the ended lease gave its slot back
        wait_for(lambda: hub.get_session(second.id).attributes.get("url"))
        hub.cancel(second.id)
        wait_for(lambda: hub.get_session(second.id).attributes.get("end_time"))


@pytest.mark.parametrize(
    ("attributes", "message"),
    [({"machine_id": "tiny", "timeout_seconds": True}, "attributes.timeout_seconds"),
     ({"machine_id": "tiny", "timeout_seconds": -5}, "attributes.timeout_seconds"),
     ({"timeout_seconds": 60}, "attributes.machine_id")],
)  # fmt: skip
def test_bad_lease_attributes_are_400(
    machine_hub: MachineHub, attributes: dict[str, object], message: str
) -> None:
    with machine_hub.client() as hub, pytest.raises(Invalid, match=message):
        hub.create_session(kind="machine", attributes=attributes)
