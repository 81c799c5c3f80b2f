"""KernelAttributes: a kernel session's attributes, typed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from sessionhub.domain.attributes.kernel import KernelAttributes
from sessionhub.domain.models import Session
from tests.api.dialects.jupyter.conftest import Jupyter


def session_with(attributes: dict[str, Any]) -> Session:
    now = datetime.now(UTC)
    return Session(id="s", workspace_id="w", kind="kernel", attributes=attributes,
                   created_at=now, updated_at=now)  # fmt: skip


def test_reads_every_field() -> None:
    attributes = KernelAttributes.of(session_with({
        "path": "a/nb.ipynb", "type": "notebook", "jupyter_name": "nb",
        "kernel_id": "k1", "kernel_name": "python3",
    }))  # fmt: skip
    assert attributes == KernelAttributes(
        path="a/nb.ipynb", type="notebook", jupyter_name="nb", kernel_id="k1",
        kernel_name="python3",
    )  # fmt: skip


def test_missing_and_null_values_read_as_empty_and_other_keys_are_ignored() -> None:
    attributes = KernelAttributes.of(
        session_with({"kernel_id": None, "kernel_name": "", "type": None, "color": "red"})
    )
    assert attributes.kernel_id == ""
    assert attributes.kernel_name is None
    assert attributes.type == attributes.path == attributes.jupyter_name == ""


def test_bound_to_is_the_patch_for_a_new_kernel() -> None:
    patch = KernelAttributes.bound_to("k2", "python3")
    assert patch == {"kernel_id": "k2", "kernel_name": "python3"}
    merged = KernelAttributes.of(session_with({"path": "p", **patch}))
    assert (merged.path, merged.kernel_id, merged.kernel_name) == ("p", "k2", "python3")


def test_stored_round_trips() -> None:
    attributes = KernelAttributes(path="p", type="console", kernel_id="k", kernel_name=None)
    assert KernelAttributes.of(session_with(attributes.stored())) == attributes


def test_the_model_is_frozen() -> None:
    attributes = KernelAttributes(kernel_id="k")
    with pytest.raises(ValidationError):
        attributes.kernel_id = "other"  # type: ignore[misc]


def test_a_jupyter_session_stores_what_its_model_says(jupyter: Jupyter) -> None:
    made = jupyter.http.post(
        "api/sessions",
        json={"path": "t/a.ipynb", "type": "notebook", "name": "a", "kernel": {"name": "python3"}},
    )
    assert made.status_code == 201
    model = made.json()
    native = jupyter.http.get(f"{jupyter.server.url}/v1/sessions/{model['id']}").json()
    attributes = KernelAttributes.model_validate(native["attributes"])
    assert attributes == KernelAttributes(
        path="t/a.ipynb", type="notebook", jupyter_name="a", kernel_id=model["kernel"]["id"],
        kernel_name="python3",
    )  # fmt: skip


def test_patch_holds_only_the_given_fields_and_refuses_unknown_ones() -> None:
    assert KernelAttributes.patch(path="p", jupyter_name="", type=None) == {
        "path": "p",
        "jupyter_name": "",
    }
    with pytest.raises(TypeError, match="kernel_idd"):
        KernelAttributes.patch(kernel_idd="k")
