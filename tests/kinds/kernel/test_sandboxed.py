"""Kernels start through the sandboxing provisioner: ipc sockets in a private directory,
the allowlisted environment, and a clear 503 where no sandbox is installed."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sessionhub.kinds.kernel.provisioner import SESSION_MOUNT
from tests.api.dialects.jupyter.conftest import Jupyter, running
from tests.api.dialects.jupyter.test_transcript import run_cell


def driver(j: Jupyter) -> object:
    return j.server.server.config.app.state.hub.service.drivers.get("kernel")


def kernel_dir(j: Jupyter, kernel_id: str) -> Path:
    manager = driver(j).manager.get_kernel(kernel_id)  # type: ignore[attr-defined]
    return Path(manager.connection_file).parent


@pytest.fixture
def unsandboxed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Jupyter]:
    with running(tmp_path, capsys, sandbox="none") as hub:
        yield hub


@pytest.fixture
def without_bwrap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Jupyter]:
    """A server that looked for ``bwrap`` on a PATH without it."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with running(tmp_path, capsys, kernel_pool_size=1) as hub:
        monkeypatch.undo()
        yield hub


def test_a_kernel_without_a_session_is_sandboxed_over_ipc(jupyter: Jupyter) -> None:
    made = jupyter.http.post("api/kernels", json={"name": "python3"})
    assert made.status_code == 201
    kid = made.json()["id"]
    directory = kernel_dir(jupyter, kid)
    root = driver(jupyter).runtime_dir.absolute()
    assert directory.parent == root or directory.name.startswith("sessionhub-k")  # deep paths
    assert stat.S_IMODE(directory.stat().st_mode) & 0o777 == 0o700  # (jupyter adds the sticky bit)
    info = driver(jupyter).manager.get_kernel(kid).get_connection_info()  # type: ignore[attr-defined]
    assert info["transport"] == "ipc" and info["ip"].startswith(str(directory))
    assert run_cell(jupyter, kid, "import os\nos.getcwd()") == repr(str(SESSION_MOUNT))
    assert run_cell(jupyter, kid, "import os\nos.getpid()") != "1"
    assert run_cell(jupyter, kid, "import os\nsorted(os.listdir('/proc/1/task')) != []") == "True"

    assert jupyter.http.post(f"api/kernels/{kid}/restart").status_code == 200
    assert run_cell(jupyter, kid, "1 + 1") == "2"
    assert kernel_dir(jupyter, kid) == directory  # the same key and sockets after a restart

    assert jupyter.http.delete(f"api/kernels/{kid}").status_code == 204
    for _ in range(50):
        if not directory.exists():
            break
        time.sleep(0.1)
    assert not directory.exists()  # the key does not outlive its kernel


def test_interrupt_reaches_the_kernel_inside_the_sandbox(jupyter: Jupyter) -> None:
    made = jupyter.http.post("api/sessions", json={"path": "i.ipynb", "type": "notebook"}).json()
    sid = made["id"]
    url, headers = jupyter.server.url, {"Authorization": f"Bearer {jupyter.key}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        stopped = http.post(
            f"/v1/sessions/{sid}/execute", json={"code": "import time\ntime.sleep(60)",
                                                  "timeout": 1},
        ).json()  # fmt: skip
        assert stopped["payload"]["outputs"][-1]["ename"] == "KeyboardInterrupt"
        again = http.post(f"/v1/sessions/{sid}/execute", json={"code": "'alive'"}).json()
        assert again["payload"]["status"] == "ok"


def test_without_a_sandbox_running_code_is_a_503_naming_both_fixes(without_bwrap: Jupyter) -> None:
    j = without_bwrap
    refused = j.http.post("api/kernels", json={"name": "python3"})
    assert refused.status_code == 503
    assert "bubblewrap" in refused.json()["message"]
    assert "SESSIONHUB_SANDBOX=none" in refused.json()["message"]
    session = j.http.post("api/sessions", json={"path": "x.ipynb", "type": "notebook"})
    assert session.status_code == 503 and "bubblewrap" in session.json()["message"]

    headers = {"Authorization": f"Bearer {j.key}"}
    with httpx.Client(base_url=j.server.url, headers=headers, timeout=60) as http:
        made = http.post("/v1/sessions", json={"kind": "kernel"})
        assert made.status_code == 201, made.text
        ran = http.post(f"/v1/sessions/{made.json()['id']}/execute", json={"code": "1"})
        assert ran.status_code == 503
        assert ran.headers["content-type"] == "application/problem+json"
        assert "bubblewrap" in ran.json()["detail"]
        assert "SESSIONHUB_SANDBOX=none" in ran.json()["detail"]
        assert http.get("/v1/sessions").status_code == 200  # everything else still works
    assert j.kernel_pids() == []  # and the pool started nothing


def test_opting_out_still_starts_kernels_with_the_allowlisted_environment(
    unsandboxed: Jupyter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SESSIONHUB_ESCAPE_MARKER", "server-only")
    made = unsandboxed.http.post("api/sessions", json={"path": "n.ipynb", "type": "notebook"})
    kid = made.json()["kernel"]["id"]
    names = run_cell(unsandboxed, kid, "import os\nsorted(os.environ)")
    assert "SESSIONHUB_ESCAPE_MARKER" not in names and "PATH" in names
    here = run_cell(unsandboxed, kid, "import os\nos.getcwd()")
    assert here != repr(str(SESSION_MOUNT)) and os.path.isabs(eval(here))  # its host path
