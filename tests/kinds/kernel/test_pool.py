"""The warm kernel pool: a new session gets a pre-started kernel, moved to its directory."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests.api.dialects.jupyter.conftest import Jupyter, no_kernel_processes_left, running, start
from tests.api.dialects.jupyter.test_transcript import run_cell, wait_for_executions

READY = re.compile(r'^sessionhub_kernel_pool_ready\{kernelspec="python3"\} (\S+)$', re.M)


@pytest.fixture
def pooled(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Jupyter]:
    with running(tmp_path, capsys, kernel_pool_size=1) as hub:
        yield hub


def hub(j: Jupyter) -> Any:
    return j.server.server.config.app.state.hub


def driver(j: Jupyter) -> Any:
    return hub(j).service.drivers.get("kernel")


def pool_ready(j: Jupyter) -> int:
    """The pool's size as /metrics reports it."""
    found = READY.search(j.http.get(f"{j.server.url}/metrics").text)
    return int(float(found.group(1))) if found else 0


def wait_pool(j: Jupyter, count: int) -> int:
    for _ in range(600):
        if pool_ready(j) == count:
            break
        time.sleep(0.1)
    return pool_ready(j)


def pid_of(j: Jupyter, kernel_id: str) -> int:
    return int(driver(j).manager.get_kernel(kernel_id).provisioner.pid)


def session_dir(j: Jupyter, session_id: str) -> str:
    """The session's directory as its kernel sees it (``/session`` in the sandbox)."""
    native = j.http.get(f"{j.server.url}/v1/sessions/{session_id}").json()
    host = hub(j).service.files.directory(native["workspace_id"], session_id).absolute()
    return str(driver(j).workdir_inside(host))


def test_a_new_session_takes_a_warm_kernel_in_its_own_directory(pooled: Jupyter) -> None:
    assert wait_pool(pooled, 1) == 1
    assert pooled.http.get("api/kernels").json() == []  # pooled kernels belong to nobody
    warm = pooled.kernel_pids()
    assert len(warm) == 1

    made = pooled.http.post("api/sessions", json={"path": "p/nb.ipynb", "type": "notebook"})
    assert made.status_code == 201
    sid, kid = made.json()["id"], made.json()["kernel"]["id"]
    assert pid_of(pooled, kid) == warm[0]
    assert [k["id"] for k in pooled.http.get("api/kernels").json()] == [kid]

    where = session_dir(pooled, sid)
    put = pooled.http.put(f"{pooled.server.url}/v1/sessions/{sid}/files/data.txt", content=b"hi")
    assert put.status_code in (200, 201)
    assert run_cell(pooled, kid, "import os\nos.getcwd()") == repr(where)
    assert run_cell(pooled, kid, "open('data.txt').read()", v1=True) == repr("hi")
    assert run_cell(pooled, kid, "str(_dh[0])") == repr(where)
    cells = wait_for_executions(pooled, sid, 3)
    assert [c["payload"]["execution_count"] for c in cells] == [1, 2, 3]  # the move was silent

    assert wait_pool(pooled, 1) == 1  # refilled in the background, with a new kernel
    refill = set(pooled.kernel_pids()) - {warm[0]}
    assert len(refill) == 1
    assert [k["id"] for k in pooled.http.get("api/kernels").json()] == [kid]

    restarted = pooled.http.post(f"api/kernels/{kid}/restart")
    assert restarted.status_code == 200
    assert run_cell(pooled, kid, "import os\nos.getcwd()") == repr(where)


def test_fork_gets_a_warm_kernel_and_shutdown_stops_the_pool(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server, key = start(tmp_path, capsys, kernel_pool_size=2)
    j = Jupyter(server, key)
    try:
        assert wait_pool(j, 2) == 2
        warm = set(j.kernel_pids())
        made = j.http.post("api/sessions", json={"path": "f.ipynb", "type": "notebook"}).json()
        sid, kid = made["id"], made["kernel"]["id"]
        assert run_cell(j, kid, "x = 41\nx + 1") == "42"
        cells = wait_for_executions(j, sid, 1)
        fork = j.http.post(
            f"{server.url}/v1/sessions/{sid}/fork", json={"at_event_id": cells[0]["id"]}
        )
        assert fork.status_code == 201
        forked = j.http.get(f"api/sessions/{fork.json()['id']}").json()["kernel"]["id"]
        assert {pid_of(j, kid), pid_of(j, forked)} <= warm
        assert run_cell(j, forked, "x") == "41"
        assert run_cell(j, forked, "import os\nos.getcwd()") == repr(
            session_dir(j, fork.json()["id"])
        )
        assert wait_pool(j, 2) == 2
        every = j.kernel_pids()
        assert len(every) == 4
    finally:
        j.http.close()
        server.__exit__(None, None, None)
    assert no_kernel_processes_left(every)
    assert pool_gauge_is_zero()


def pool_gauge_is_zero() -> bool:
    return REGISTRY.get_sample_value("sessionhub_kernel_pool_ready", {"kernelspec": "python3"}) in (
        None,
        0.0,
    )


def test_cold_start_runs_in_the_session_directory_too(jupyter: Jupyter) -> None:
    assert pool_ready(jupyter) == 0
    made = jupyter.http.post("api/sessions", json={"path": "c.ipynb", "type": "notebook"}).json()
    assert run_cell(jupyter, made["kernel"]["id"], "import os\nos.getcwd()") == repr(
        session_dir(jupyter, made["id"])
    )


def test_a_dead_pooled_kernel_is_skipped_and_replaced(pooled: Jupyter) -> None:
    assert wait_pool(pooled, 1) == 1
    [dead] = pooled.kernel_pids()
    os.kill(dead, signal.SIGKILL)
    made = pooled.http.post("api/sessions", json={"path": "d.ipynb", "type": "notebook"})
    assert made.status_code == 201
    kid = made.json()["kernel"]["id"]
    assert pid_of(pooled, kid) != dead
    assert run_cell(pooled, kid, "1+1") == "2"
    assert wait_pool(pooled, 1) == 1
    assert dead not in pooled.kernel_pids()
    assert [k["id"] for k in pooled.http.get("api/kernels").json()] == [kid]


def test_a_pooled_kernel_without_a_session_keeps_its_slot_until_it_stops(pooled: Jupyter) -> None:
    assert wait_pool(pooled, 1) == 1
    made = pooled.http.post("api/kernels", json={"name": "python3"})
    assert made.status_code == 201
    kid = made.json()["id"]
    slot = driver(pooled).pool.slot(kid)
    assert slot.is_dir()
    assert run_cell(pooled, kid, "open('left.txt', 'w').write('x')") == "1"
    assert (slot / "left.txt").read_text() == "x"  # its working directory is the slot
    assert pooled.http.delete(f"api/kernels/{kid}").status_code == 204
    assert not slot.exists()  # nothing of it stays in the data dir
