"""Without a sandbox (no ``bwrap`` on the server's PATH and no opt-out), every request
that would run user code is refused with a 503 naming both fixes, each surface in its
own envelope; everything else keeps working.

An agent's turn is not user code until a tool runs: the turn itself goes ahead, and
the ``Bash`` tool's result (an error the model sees) names the fixes instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.dialects.jupyter.conftest import Jupyter
from tests.execution.conftest import Tenants

FIXES = ("apt-get install bubblewrap", "SESSIONHUB_SANDBOX=none")
SCRIPT = [{"tools": [("Bash", {"command": "echo ran"})]}, {"content": "Done."}]


def names_both_fixes(message: str) -> bool:
    return all(fix in message for fix in FIXES)


@pytest.fixture
def script() -> list[dict[str, Any]]:
    """What the fake provider answers: one ``Bash`` call, then a reply."""
    return SCRIPT


@pytest.fixture
def bwrap_hidden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """PATH without ``bwrap`` (for the server's start); the real PATH is returned."""
    if os.environ.get("SESSIONHUB_TEST_SANDBOX") == "none":
        pytest.skip("opted out of the sandbox: nothing is refused")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    path = os.environ["PATH"]
    monkeypatch.setenv("PATH", str(empty))
    return path


@pytest.fixture
def bare(bwrap_hidden: str, tenants: Tenants, monkeypatch: pytest.MonkeyPatch) -> Tenants:
    """The live server of ``tenants``, started where ``bwrap`` is not on the PATH."""
    monkeypatch.setenv("PATH", bwrap_hidden)  # the SDKs the test runs need the real one
    return tenants


def native(tenants: Tenants, method: str, path: str, **body: Any) -> httpx.Response:
    with tenants.native() as http:
        return http.request(method, path, **body)


def test_native_execute_is_a_problem_503(bare: Tenants) -> None:
    made = native(bare, "POST", "/v1/sessions", json={"kind": "kernel"})
    assert made.status_code == 201, made.text  # a session is not code
    ran = native(bare, "POST", f"/v1/sessions/{made.json()['id']}/execute", json={"code": "1"})
    assert ran.status_code == 503, ran.text
    assert ran.headers["content-type"].startswith("application/problem+json")
    assert names_both_fixes(ran.json()["detail"]), ran.json()
    assert native(bare, "GET", "/v1/sessions").status_code == 200


def test_jupyter_kernel_start_is_a_503_in_jupyters_envelope(bare: Tenants) -> None:
    jupyter = Jupyter(bare.harness.server, bare.harness.key)
    try:
        refused = jupyter.http.post("api/kernels", json={"name": "python3"})
        assert refused.status_code == 503, refused.text
        body = refused.json()
        assert names_both_fixes(body["message"]), body
        assert jupyter.http.get("api/kernels").json() == []
        assert jupyter.http.get("api/kernelspecs").status_code == 200
    finally:
        jupyter.http.close()


def test_comfydeploy_session_for_a_sandboxed_machine_is_a_503_detail(bare: Tenants) -> None:
    machine = native(bare, "POST", "/v1/machines", json={
        "name": "m", "command": "python3 -m http.server {port}", "startup_timeout": 20,
    })  # fmt: skip
    assert machine.status_code == 201, machine.text
    assert machine.json()["host"] is False
    refused = native(bare, "POST", "/comfydeploy/api/session",
                     json={"machine_id": machine.json()["id"]})  # fmt: skip
    assert refused.status_code == 503, refused.text
    assert list(refused.json()) == ["detail"] and names_both_fixes(refused.json()["detail"])
    listed = native(bare, "GET", "/comfydeploy/api/sessions")
    assert listed.status_code == 200 and listed.json() == []


def test_mix_bash_tool_result_names_both_fixes(bare: Tenants) -> None:
    out = bare.harness.run("turn", text="run it")
    (call,) = out["messages"][1]["toolCalls"]
    assert call["isError"] is True
    assert names_both_fixes(call["result"]), call
    assert out["messages"][-1]["assistantResponse"] == "Done."  # the turn itself went on
