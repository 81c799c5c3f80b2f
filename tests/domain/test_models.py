"""The domain models refuse what neither database can store, before any I/O."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sessionhub.domain.models import EventCreate, SessionCreate, without_nul


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        ({"text": "a\x00b"}, "NUL"),
        ({"a\x00": 1}, "NUL"),
        ({"n": 2**64}, "not storable as JSON"),
        ({"x": [1.0, float("nan")]}, "NaN and infinity"),
        ({"x": {"y": float("inf")}}, "NaN and infinity"),
    ],
)
def test_an_unstorable_payload_is_refused(payload: dict[str, object], why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        EventCreate(type="message", payload=payload)


def test_storable_json_passes_unchanged() -> None:
    payload = {"n": 2**63 - 1, "f": 1.5, "s": "ünïcode", "l": [None, True, {"k": "v"}]}
    assert EventCreate(type="message", payload=payload).payload == payload


def test_names_and_titles_refuse_nul_and_kinds_their_pattern() -> None:
    with pytest.raises(ValidationError, match="NUL"):
        SessionCreate(name="a\x00")
    with pytest.raises(ValidationError, match="kind"):
        SessionCreate(kind="Not A Kind")


def test_without_nul_replaces_in_keys_and_nested_values() -> None:
    cleaned = without_nul({"k\x00": ["v\x00", {"x": "\x00"}], "n": 1})
    assert cleaned == {"k\ufffd": ["v\ufffd", {"x": "\ufffd"}], "n": 1}
