"""TraceAttributes: the typed view of a trace session's attributes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sessionhub.domain.attributes.trace import TraceAttributes
from sessionhub.domain.errors import Invalid


def test_times_are_written_in_utc_with_milliseconds() -> None:
    paris = timezone(timedelta(hours=1))
    change = TraceAttributes(
        started_at=datetime(2030, 1, 1, 1, 0, 0, 123456, tzinfo=paris),
        updated_at=datetime(2030, 1, 1, 0, 0, 1),  # naive: UTC
    ).stored()
    assert change == {"started_at": "2030-01-01T00:00:00.123Z",
                      "updated_at": "2030-01-01T00:00:01.000Z"}  # fmt: skip


def test_reads_the_clients_fields_and_keeps_its_own_keys() -> None:
    stored = {"base": {"duration": 5.0}, "tags": ["a"], "project_id": "p", "extra": [1]}
    attrs = TraceAttributes.parse(stored)
    assert attrs.base == {"duration": 5.0} and attrs.tags == ["a"] and attrs.contact_ids is None
    assert attrs.stored() == stored
    assert TraceAttributes.parse({}).started_at is None


def test_a_bad_value_is_invalid_naming_the_attribute() -> None:
    with pytest.raises(Invalid, match=r"attributes\.base\.duration"):
        TraceAttributes.parse({"base": {"duration": "long"}})
    with pytest.raises(Invalid, match=r"attributes\.started_at"):
        TraceAttributes.parse({"started_at": "yesterday"})
    assert TraceAttributes.parse({"tags": None}).tags is None
