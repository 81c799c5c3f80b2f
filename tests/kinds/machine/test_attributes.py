"""MachineAttributes: the typed view of a machine session's attributes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sessionhub.domain.attributes.machine import DEFAULT_TIMEOUT, MachineAttributes
from sessionhub.domain.errors import Invalid


def test_reads_what_the_kind_wrote_and_keeps_the_clients_own_keys() -> None:
    stored = {
        "machine_id": "tiny", "machine_ref": "m1", "gpu_event_id": "g1", "state": "ready",
        "port": 4321, "start_time": "2030-01-01T00:00:00Z", "end_time": None,
        "timeout_end": "2030-01-01T00:15:00.250000Z", "cost": 0.5, "mine": {"x": 1},
    }  # fmt: skip
    attrs = MachineAttributes.parse(stored)
    assert attrs.port == 4321 and attrs.state == "ready" and attrs.active
    assert attrs.start_time == datetime(2030, 1, 1, tzinfo=UTC)
    assert attrs.timeout_seconds == DEFAULT_TIMEOUT  # not given: the default
    assert attrs.model_dump(mode="json", exclude_unset=True) == stored  # a faithful round trip


def test_changes_are_only_the_fields_set_as_json() -> None:
    ended = datetime(2030, 1, 1, 0, 0, 1, 500000, tzinfo=UTC)
    change = MachineAttributes(state="ended", end_time=ended, exit_code=None).stored()
    assert change == {"state": "ended", "end_time": "2030-01-01T00:00:01.500000Z",
                      "exit_code": None}  # fmt: skip
    assert not MachineAttributes.parse({**change, "gpu_event_id": "g"}).active


@pytest.mark.parametrize(
    ("stored", "where"),
    [({"timeout_seconds": True}, "attributes.timeout_seconds"),
     ({"timeout_seconds": 0}, "attributes.timeout_seconds"),
     ({"timeout_seconds": "60"}, "attributes.timeout_seconds"),
     ({"port": "eighty"}, "attributes.port"),
     ({"state": "asleep"}, "attributes.state")],
)  # fmt: skip
def test_a_bad_value_is_invalid_naming_the_attribute(stored: dict[str, object], where: str) -> None:
    with pytest.raises(Invalid, match=where):
        MachineAttributes.parse(stored)
