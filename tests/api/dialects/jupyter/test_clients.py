"""The real clients, as subprocesses, against a live sessionhub: JupyterLab's and datalayer's."""

from __future__ import annotations

import json
import os
from pathlib import Path

from sessionhub.testing import sdkenv
from tests.api.dialects.jupyter.conftest import Jupyter, Servers, no_kernel_processes_left

HERE = Path(__file__).parent
JLAB = {"@jupyterlab/services": "7.6.6", "ws": "8.18.3"}


def parse(done: object) -> dict[str, object]:
    stdout, stderr = getattr(done, "stdout", ""), getattr(done, "stderr", "")
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON from the client\nstdout: {stdout}\nstderr: {stderr[-3000:]}"
    result: dict[str, object] = json.loads(lines[-1])
    return result


def test_jupyterlab_services(servers: Servers) -> None:
    jupyter = servers.start()
    project = sdkenv.node_project("jupyterlab-services", JLAB)
    env = {"NODE_PATH": str(project / "node_modules")}
    done = sdkenv.run(["node", str(HERE / "jlab_client.js"), jupyter.base, jupyter.key],
                      env=env, cwd=project, timeout=120)  # fmt: skip
    out = parse(done)
    assert "error" not in out, out
    assert out["api_created"] == {"path": "api.ipynb", "name": "api", "type": "notebook",
                                  "kernel": "python3"}  # fmt: skip
    assert out["api_nameless"] == {"name": "", "listed": 2}
    assert out["api_listed"] is True and out["api_after_shutdown"] is False
    assert out["api_get_path"] == "api.ipynb" and out["api_updated_path"] == "renamed.ipynb"
    assert out["started"] == {"path": "nb.ipynb", "name": "nb"}
    assert out["kernel_info_language"] == "python"
    assert out["execute"] == {"status": "ok", "result": "2"}
    assert out["execute_state"] == {"status": "ok", "result": "42"}
    assert out["set_path"] == "moved.ipynb" and out["find_by_path"] is True
    assert out["changed_kernel"] is True
    assert out["execute_after_change"] == {"status": "ok", "result": "10"}
    assert out["after_shutdown"] == 0
    assert jupyter.http.get("api/kernels").json() == []


def test_jupyter_server_client(servers: Servers) -> None:
    jupyter = servers.start()
    python = sdkenv.python_env("jupyter-server-client", ["jupyter-server-client==0.1.1"])
    done = sdkenv.run([str(python), str(HERE / "jsc_client.py"), jupyter.base.rstrip("/"),
                       jupyter.key], timeout=120)  # fmt: skip
    out = parse(done)
    assert out == {
        "created": {"path": "jsc.ipynb", "type": "notebook", "kernel": "python3"},
        "same_path_same_id": True, "listed": True, "get_path": "jsc.ipynb",
        "renamed": "other.ipynb", "kernels": True, "after_delete": 0,
        "get_deleted": "NotFoundError",
    }  # fmt: skip


def test_server_shutdown_stops_kernels(tmp_path: Path, capsys: object) -> None:
    from tests.api.dialects.jupyter.conftest import start

    server, key = start(tmp_path, capsys)  # type: ignore[arg-type]
    hub = Jupyter(server, key)
    try:
        assert hub.http.post("api/sessions", json={"path": "a", "type": "file"}).status_code == 201
        pids = hub.kernel_pids()
        assert pids and all(os.path.exists(f"/proc/{pid}") for pid in pids)
    finally:
        hub.http.close()
        server.__exit__(None, None, None)
    assert no_kernel_processes_left(pids)
