"""Native ``POST /v1/sessions/{id}/execute`` through the Python client, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time

import httpx
import pytest

from sessionhub import AsyncClient, Client, Conflict, Invalid, NotFound, Unsupported
from tests.api.dialects.jupyter.conftest import Jupyter, Servers
from tests.api.dialects.jupyter.test_transcript import executions, run_cell


def kernel_session(j: Jupyter, path: str = "n.ipynb") -> tuple[str, str]:
    made = j.http.post("api/sessions", json={"path": path, "type": "notebook"}).json()
    assert "id" in made, made
    return made["id"], made["kernel"]["id"]


def client(j: Jupyter) -> Client:
    return Client(base_url=j.server.url, api_key=j.key)


def text_of(payload: dict[str, object]) -> str:
    outputs = payload["outputs"]
    assert isinstance(outputs, list)
    results = [o for o in outputs if o["output_type"] == "execute_result"]
    return str(results[0]["data"]["text/plain"])


def test_execute_is_recorded_like_a_websocket_cell(servers: Servers) -> None:
    j = servers.start()
    sid, kid = kernel_session(j)
    with client(j) as c:
        first = c.execute(sid, "x = 41\nprint('hi')\nx + 1")
        assert first.type == "execution" and first.session_id == sid
        assert first.payload["status"] == "ok" and first.payload["execution_count"] == 1
        assert text_of(first.payload) == "42"
        assert first.payload["outputs"][0] == {"output_type": "stream", "name": "stdout",
                                               "text": "hi\n"}  # fmt: skip
        assert run_cell(j, kid, "x * 2") == "82"  # the websocket sees the same kernel
        failed = c.execute(sid, "1 / 0")
        assert failed.payload["status"] == "error"
        assert failed.payload["outputs"][-1]["ename"] == "ZeroDivisionError"
        recorded = executions(j, sid)
        assert [e["payload"]["code"] for e in recorded] == ["x = 41\nprint('hi')\nx + 1",
                                                           "x * 2", "1 / 0"]  # fmt: skip
        assert recorded[0]["id"] == first.id and recorded[2]["id"] == failed.id
        assert recorded[0]["payload"] == first.payload
        exported = j.http.get(f"{j.server.url}/v1/sessions/{sid}/export").json()
        assert len([e for e in exported["events"] if e["type"] == "execution"]) == 3

        shared = j.http.post("api/sessions", json={"path": "s.py", "type": "console",
                                                   "kernel": {"id": kid}}).json()  # fmt: skip
        assert shared["kernel"]["id"] == kid
        both = c.execute(shared["id"], "x")
        assert text_of(both.payload) == "41" and both.session_id == shared["id"]
        assert executions(j, sid)[-1]["payload"] == both.payload  # every session of the kernel

        generic = c.create_session(kind="generic")
        with pytest.raises(Unsupported) as refused:
            c.execute(generic.id, "1")
        assert refused.value.extra["status"] == 409
        with pytest.raises(NotFound):
            c.execute("no-such-session", "1")
        with pytest.raises(Invalid):
            c.execute(sid, "1", run_timeout=-1)
    raw = httpx.post(f"{j.server.url}/v1/sessions/{generic.id}/execute", json={"code": "1"},
                     headers={"Authorization": f"Bearer {j.key}"})  # fmt: skip
    assert raw.status_code == 409
    assert raw.headers["content-type"] == "application/problem+json"
    assert raw.json()["type"] == "urn:sessionhub:unsupported"


def test_async_client_execute(jupyter: Jupyter) -> None:
    sid, _ = kernel_session(jupyter)

    async def go() -> str:
        async with AsyncClient(base_url=jupyter.server.url, api_key=jupyter.key) as c:
            await c.execute(sid, "y = 'a' * 3")
            return text_of((await c.execute(sid, "y")).payload)

    assert asyncio.run(go()) == "'aaa'"


def test_timeout_interrupts_and_busy_kernel_is_409(jupyter: Jupyter) -> None:
    sid, _ = kernel_session(jupyter)
    with client(jupyter) as c:
        stopped = c.execute(sid, "import time\ntime.sleep(60)", run_timeout=1)
        assert stopped.payload["status"] == "timeout"
        assert stopped.payload["outputs"][-1]["ename"] == "KeyboardInterrupt"
        assert text_of(c.execute(sid, "2 + 2").payload) == "4"  # the kernel is usable again

        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            slow = pool.submit(c.execute, sid, "import time\ntime.sleep(60)", run_timeout=30)
            wait_busy(jupyter, sid)
            with pytest.raises(Conflict) as busy:
                c.execute(sid, "1")
            assert busy.value.extra["type"] == "urn:sessionhub:run-already-active"
            kernel = jupyter.http.get(f"api/sessions/{sid}").json()["kernel"]["id"]
            assert jupyter.http.post(f"api/kernels/{kernel}/interrupt").status_code == 204
            assert slow.result(timeout=30).payload["status"] == "error"


def wait_busy(j: Jupyter, sid: str) -> None:
    for _ in range(200):
        if j.http.get(f"api/sessions/{sid}").json()["kernel"]["execution_state"] == "busy":
            return
        time.sleep(0.05)
    raise AssertionError("the kernel never became busy")
