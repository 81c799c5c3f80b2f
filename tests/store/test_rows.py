"""Row helpers the hot write path depends on."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta, timezone

from sessionhub.store.sql.db import format_ts
from sessionhub.store.sql.rows import new_id


def test_new_ids_are_uuid7_in_time_order() -> None:
    first = new_id()
    time.sleep(0.002)
    later = [new_id() for _ in range(1000)]
    assert all(uuid.UUID(i).version == 7 and uuid.UUID(i).variant == uuid.RFC_4122 for i in later)
    assert all(first < i for i in later)  # a later millisecond sorts after, as text too
    assert len(set(later)) == 1000
    stamp_ms = int(uuid.UUID(first).hex[:12], 16)
    assert abs(stamp_ms / 1000 - time.time()) < 5


def test_timestamps_are_fixed_width_utc_text() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert format_ts(datetime(2026, 1, 2, 3, 4, 5, tzinfo=plus_two)) == (
        "2026-01-02T01:04:05.000000+00:00"
    )
    assert format_ts(datetime(2026, 1, 2, 3, 4, 5, 7, tzinfo=UTC)) == (
        "2026-01-02T03:04:05.000007+00:00"
    )
