"""Kernel sessions across server restarts, dead kernels, idle culling, workspaces, two servers."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from sessionhub import Client, Interrupted
from sessionhub.store.sql.store import open_store
from tests.api.dialects.jupyter.conftest import Jupyter, Servers, no_kernel_processes_left
from tests.api.dialects.jupyter.test_execute import kernel_session, text_of
from tests.api.dialects.jupyter.test_transcript import executions, run_cell


def until(check: Callable[[], bool], what: str, *, tries: int = 400) -> None:
    """Poll ``check`` (every 50 ms, a bounded number of times)."""
    for _ in range(tries):
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"never saw: {what}")


def kernel_of(j: Jupyter, sid: str) -> dict[str, object]:
    found: dict[str, object] = j.http.get(f"api/sessions/{sid}").json()["kernel"]
    return found


def test_restart_lists_sessions_and_replays_the_transcript(servers: Servers) -> None:
    first = servers.start(kernel_replay_on_restart=True)
    sid, kid = kernel_session(first)
    with Client(base_url=first.server.url, api_key=first.key) as c:
        c.execute(sid, "x = 41")
    assert run_cell(first, kid, "y = 1\ny") == "1"
    until(lambda: len(executions(first, sid)) == 2, "both cells recorded")
    servers.stop(first)

    second = servers.start(kernel_replay_on_restart=True)
    listed = second.http.get("api/sessions").json()
    assert [(s["id"], s["kernel"]["id"]) for s in listed] == [(sid, kid)]
    assert listed[0]["kernel"]["execution_state"] == "starting"
    assert second.kernel_pids() == []  # started on first use only
    assert [k["id"] for k in second.http.get("api/kernels").json()] == [kid]  # JupyterLab needs it
    assert run_cell(second, kid, "x + y") == "42"  # the websocket connect restarted it
    assert len(second.kernel_pids()) == 1
    until(lambda: len(executions(second, sid)) == 3, "the new cell recorded")
    assert [e["payload"]["code"] for e in executions(second, sid)] == ["x = 41", "y = 1\ny",
                                                                       "x + y"]  # fmt: skip
    assert second.http.get(f"api/kernels/{kid}").json()["execution_state"] != "dead"


def test_restart_without_replay_starts_a_fresh_kernel(sqlite_servers: Servers) -> None:
    first = sqlite_servers.start()
    sid, kid = kernel_session(first)
    with Client(base_url=first.server.url, api_key=first.key) as c:
        c.execute(sid, "x = 41")
    sqlite_servers.stop(first)

    second = sqlite_servers.start()
    assert second.http.get(f"api/kernels/{kid}").status_code == 200  # GET starts it
    assert len(second.kernel_pids()) == 1
    with Client(base_url=second.server.url, api_key=second.key) as c:
        missing = c.execute(sid, "x")
    assert missing.payload["status"] == "error"
    assert missing.payload["outputs"][-1]["ename"] == "NameError"


def test_a_killed_kernel_is_reported_dead_then_restarted_on_use(jupyter: Jupyter) -> None:
    sid, kid = kernel_session(jupyter)
    [pid] = jupyter.kernel_pids()
    os.kill(pid, signal.SIGKILL)
    until(lambda: kernel_of(jupyter, sid)["execution_state"] == "dead", "the kernel dead")
    assert [s["id"] for s in jupyter.http.get("api/sessions").json()] == [sid]
    assert jupyter.http.get(f"api/kernels/{kid}").json()["execution_state"] == "dead"

    with Client(base_url=jupyter.server.url, api_key=jupyter.key) as c:
        assert text_of(c.execute(sid, "6 * 7").payload) == "42"
    assert kernel_of(jupyter, sid)["execution_state"] == "idle"
    [again] = jupyter.kernel_pids()
    assert again != pid

    with (
        Client(base_url=jupyter.server.url, api_key=jupyter.key) as c,
        concurrent.futures.ThreadPoolExecutor(1) as pool,
    ):
        running = pool.submit(c.execute, sid, "import time\ntime.sleep(60)")
        until(lambda: kernel_of(jupyter, sid)["execution_state"] == "busy", "busy")
        os.kill(again, signal.SIGKILL)
        with pytest.raises(Interrupted) as died:
            running.result(timeout=30)
    assert died.value.extra["status"] == 503
    assert kernel_of(jupyter, sid)["execution_state"] == "dead"
    assert [e["payload"]["code"] for e in executions(jupyter, sid)] == ["6 * 7"]
    restarted = jupyter.http.post(f"api/kernels/{kid}/restart")
    assert restarted.status_code == 200 and restarted.json()["id"] == kid
    assert run_cell(jupyter, kid, "1 + 1") == "2"


def test_idle_kernels_are_culled_and_the_session_stays(sqlite_servers: Servers) -> None:
    j = sqlite_servers.start(
        kernel_cull_idle_timeout=0.5, kernel_cull_interval=0.1, kernel_replay_on_restart=True
    )
    sid, kid = kernel_session(j)
    with Client(base_url=j.server.url, api_key=j.key) as c:
        c.execute(sid, "x = 5")
        stuck = c.execute(sid, "import time\ntime.sleep(120)", run_timeout=0.5)
        assert stuck.payload["status"] == "timeout"  # not replayed (it would hold the kernel)
        pids = j.kernel_pids()
        until(lambda: j.kernel_pids() == [], "the idle kernel culled")
        assert no_kernel_processes_left(pids)
        assert [(s["id"], s["kernel"]["id"]) for s in j.http.get("api/sessions").json()] == [
            (sid, kid)
        ]
        assert [k["id"] for k in j.http.get("api/kernels").json()] == [kid]
        assert text_of(c.execute(sid, "x").payload) == "5"  # restarted, transcript replayed


async def add_workspace_key(database_url: str, workspace: str) -> str:
    store = open_store(database_url)
    await store.open()
    try:
        ws = await store.create_workspace(name=workspace)
        return (await store.create_key(workspace_id=ws.id, name="t", admin=True)).secret
    finally:
        await store.close()


def test_a_kernel_of_another_workspace_is_unknown(jupyter: Jupyter, tmp_path: Path) -> None:
    other_key = asyncio.run(add_workspace_key(f"sqlite:///{tmp_path}/db.sqlite", "other"))
    theirs = httpx.Client(base_url=jupyter.base, headers={"Authorization": f"token {other_key}"})
    with theirs:
        _, foreign = kernel_session(_as(jupyter, theirs))
        sid, _ = kernel_session(jupyter, "mine.ipynb")
        patched = jupyter.http.patch(f"api/sessions/{sid}", json={"kernel": {"id": foreign}})
        assert (patched.status_code, patched.json()["message"]) == (
            400, f"No such kernel: {foreign}"
        )  # fmt: skip
        assert jupyter.http.get(f"api/kernels/{foreign}").status_code == 404
        posted = jupyter.http.post(
            "api/sessions", json={"path": "x.ipynb", "type": "notebook", "kernel": {"id": foreign}}
        )
        assert posted.status_code == 400
        assert [k["id"] for k in theirs.get("api/kernels").json()] == [foreign]


def _as(j: Jupyter, http: httpx.Client) -> Jupyter:
    other = Jupyter.__new__(Jupyter)
    other.server, other.key, other.base, other.http = j.server, "", j.base, http
    return other


@pytest.mark.postgres
def test_create_by_path_is_atomic_across_two_servers(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.api.dialects.jupyter.conftest import settings_for

    pair = Servers(settings_for(tmp_path, postgres_url), capsys)
    try:
        a, b = pair.start(), pair.start()
        for hub in (a, b):  # FastAPI builds routes on first use; two apps in one process
            assert hub.http.get("api/sessions").json() == []  # must not race on that
            assert hub.http.post("api/sessions", content=b"").status_code == 400
        hubs = [a, b] * 4
        with concurrent.futures.ThreadPoolExecutor(len(hubs)) as pool:
            answers = list(pool.map(lambda h: kernel_session(h, "race.ipynb"), hubs))
        assert len(set(answers)) == 1
        assert len(a.kernel_pids()) + len(b.kernel_pids()) == 1
        assert len(a.http.get("api/sessions").json()) == len(b.http.get("api/sessions").json()) == 1
    finally:
        pair.close()
