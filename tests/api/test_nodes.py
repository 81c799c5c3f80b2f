"""Several nodes, one service: `sessionhub serve` processes sharing one PostgreSQL.

A kernel belongs to one node; requests for it through any other node are forwarded
to the owner (HTTP and the Jupyter websocket), and when the owner dies the first
request that needs the kernel takes it over. PostgreSQL only (several processes).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from websockets.sync.client import connect

from sessionhub.api.dialects.jupyter.channels import V1, pack_v1, unpack_v1
from sessionhub.core.nodes import kernel_resource
from sessionhub.testing import sdkenv
from sessionhub.testing.fixtures import free_port
from tests.api.dialects.jupyter.test_clients import JLAB
from tests.api.dialects.mix.fake_llm import FakeLLM
from tests.api.test_stream import wait_healthy
from tests.kinds.machine.support import TINY, gone

HEARTBEAT, TAKEOVER = 0.5, 3.0


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    url: str
    data_dir: Path


Cluster = Callable[..., ServerProcess]


@pytest.fixture
def cluster(postgres_url: str, tmp_path: Path) -> Iterator[Cluster]:
    """Starts `sessionhub serve` nodes on one database and one shared files directory,
    each with its own data dir; stops (and reaps) each one it started."""
    started: list[ServerProcess] = []

    def start(name: str, *args: str, **extra: str) -> ServerProcess:
        port = free_port()
        env = {**os.environ, **extra, "SESSIONHUB_DATABASE_URL": postgres_url, "SESSIONHUB_NO_AUTH": "1",
               "SESSIONHUB_DATA_DIR": str(tmp_path / name), "SESSIONHUB_PORT": str(port),
               "SESSIONHUB_FILES_ROOT": str(tmp_path / "shared-files"),
               "SESSIONHUB_NODE_HEARTBEAT_INTERVAL": str(HEARTBEAT),
               "SESSIONHUB_NODE_TAKEOVER_TIMEOUT": str(TAKEOVER),
               "SESSIONHUB_KERNEL_REPLAY_ON_RESTART": "1", "SESSIONHUB_REAPER_INTERVAL": "0.5",
               "SESSIONHUB_LOG_LEVEL": "WARNING"}  # fmt: skip
        command = [sys.executable, "-m", "sessionhub", "serve", *args]
        server = ServerProcess(
            subprocess.Popen(command, env=env), f"http://127.0.0.1:{port}", tmp_path / name
        )
        started.append(server)
        wait_healthy(server.url)
        return server

    try:
        yield start
    finally:
        for server in started:
            if server.proc.poll() is None:
                server.proc.terminate()
        for server in started:
            try:
                server.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.proc.kill()
                server.proc.wait(timeout=10)


def open_notebook(url: str, path: str) -> tuple[str, str]:
    """A kernel session made through the Jupyter dialect: (session id, kernel id)."""
    made = httpx.post(
        f"{url}/jupyter/api/sessions",
        json={"path": path, "type": "notebook", "name": path, "kernel": {"name": "python3"}},
        timeout=60,
    )
    assert made.status_code == 201, made.text
    body = made.json()
    return body["id"], body["kernel"]["id"]


def execute(url: str, sid: str, code: str) -> httpx.Response:
    return httpx.post(f"{url}/v1/sessions/{sid}/execute", json={"code": code}, timeout=90)


def result(response: httpx.Response) -> tuple[Any, int]:
    """(the value the cell printed as its result, the cell's execution_count)."""
    assert response.status_code == 200, response.text
    payload = response.json()["payload"]
    assert payload["status"] == "ok", payload
    [output] = [o for o in payload["outputs"] if o["output_type"] == "execute_result"]
    return eval(output["data"]["text/plain"]), payload["execution_count"]


def kernel_processes(kernel_id: str) -> list[int]:
    """Live processes on this host whose command line names the kernel's connection file."""
    needle = f"kernel-{kernel_id}.json".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


# a kernel's own mark: the same answer means the same kernel (its pid is that of its
# sandbox's namespace, the same in every kernel)
MARK = "globals().setdefault('_mark', __import__('uuid').uuid4().hex)"


def kernel_launchers(kernel_id: str) -> list[int]:
    """The kernel processes (ipykernel itself, not the bwrap processes around it)."""
    return [
        pid
        for pid in kernel_processes(kernel_id)
        if not Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].endswith(b"bwrap")
    ]


def until(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def one_kernel_scenario(entry: str, others: list[str]) -> tuple[str, str, int]:
    """A notebook opened through ``entry``, executed through ``others`` in turn: one
    kernel answers (same mark, state kept, execution_count rising by one)."""
    sid, kid = open_notebook(entry, f"n-{uuid.uuid4().hex[:6]}.ipynb")
    pid, count = result(execute(others[0], sid, f"import os; x = 41; {MARK}"))
    for step in range(1, 5):
        via = others[step % len(others)]
        (seen_pid, x), seen_count = result(execute(via, sid, f"x += 1; ({MARK}, x)"))
        assert (seen_pid, x, seen_count) == (pid, 41 + step, count + step), via
    return sid, kid, pid


def run_over_websocket(base: str, kernel_id: str, code: str) -> str:
    """Execute through the kernel's websocket (v1 binary frames); the result's text."""
    header = {"msg_id": uuid.uuid4().hex, "msg_type": "execute_request", "username": "t",
              "session": uuid.uuid4().hex, "version": "5.3",
              "date": datetime.now(UTC).isoformat()}  # fmt: skip
    content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
               "allow_stdin": False, "stop_on_error": True}  # fmt: skip
    url = base.replace("http", "ws", 1) + f"/jupyter/api/kernels/{kernel_id}/channels"
    found, idle = None, False
    with connect(url, subprotocols=[V1], open_timeout=30) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == V1
        parts = [json.dumps(p).encode() for p in (header, {}, {}, content)]
        ws.send(pack_v1("shell", parts))
        while not (idle and found is not None):
            frame = ws.recv(timeout=30)
            assert isinstance(frame, bytes)
            _, raw = unpack_v1(frame)
            got_header, parent, got = (json.loads(raw[i]) for i in (0, 1, 3))
            if parent.get("msg_id") != header["msg_id"]:
                continue
            if got_header["msg_type"] == "execute_result":
                found = got["data"]["text/plain"]
            idle = idle or got.get("execution_state") == "idle"
    return str(found)


@pytest.mark.postgres
@pytest.mark.slow
def test_three_nodes_one_kernel_and_takeover(cluster: Cluster) -> None:
    a, b, c = cluster("a"), cluster("b"), cluster("c")
    sid, kid, pid = one_kernel_scenario(a.url, [b.url, c.url])
    [launcher] = kernel_launchers(kid)
    # its connection file is in a private directory of A's (its runtime dir, or one in
    # the system's temporary directory when that path is too long for a unix socket),
    # never in the directory serve ran in
    argv = Path(f"/proc/{launcher}/cmdline").read_bytes().split(b"\0")
    connection = Path(argv[argv.index(b"-f") + 1].decode())
    assert connection.name == f"kernel-{kid}.json" and connection.parent != Path.cwd()
    assert connection.parent.parent == next((a.data_dir / "runtime").glob("node-*/kernels")) or (
        connection.parent.name.startswith("sessionhub-k")
    )
    # the Jupyter kernel routes and websocket through B reach A's kernel
    model = httpx.get(f"{b.url}/jupyter/api/kernels/{kid}")
    assert model.status_code == 200 and model.json()["id"] == kid
    assert run_over_websocket(b.url, kid, "x * 10") == "450"
    assert result(execute(c.url, sid, "x"))[0] == 45
    # a client cannot pass for a node: a made-up forwarding credential is dropped, and B
    # still forwards to A (were it trusted, B would refuse: "moved to another node")
    forged = httpx.post(f"{b.url}/v1/sessions/{sid}/execute", json={"code": MARK},
                        headers={"x-sessionhub-forward": "guess"}, timeout=90)  # fmt: skip
    assert result(forged)[0] == pid

    # session files through any node (one shared files directory, separate data dirs)
    assert execute(b.url, sid, "open('from_kernel.txt', 'w').write('on A')").status_code == 200
    assert httpx.get(f"{c.url}/v1/sessions/{sid}/files/from_kernel.txt").text == "on A"
    put = httpx.put(f"{c.url}/v1/sessions/{sid}/files/from_c.txt", content=b"via C")
    assert put.status_code in (200, 201), put.text

    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait(timeout=10)
    killed = time.monotonic()
    answered = None
    while answered is None and time.monotonic() - killed < TAKEOVER + 30:
        response = execute(b.url, sid, MARK)
        if response.status_code == 200:
            answered = response
        else:
            assert response.status_code == 503, response.text
            time.sleep(0.2)
    took = time.monotonic() - killed
    assert answered is not None, "no node took the kernel over"
    new_pid, _ = result(answered)
    assert new_pid != pid
    print(f"takeover answered {took:.2f} s after SIGKILL (timeout {TAKEOVER} s)")
    assert took < TAKEOVER + 10
    assert until(lambda: len(kernel_launchers(kid)) == 1, 15), kernel_processes(kid)
    # C now forwards to B, the new owner, whose kernel replayed the transcript and
    # finds the session's files where A's kernel left them
    assert result(execute(c.url, sid, f"({MARK}, x)"))[0] == (new_pid, 45)
    assert result(execute(c.url, sid, "open('from_c.txt').read()"))[0] == "via C"

    # a clean shutdown hands the lease back: C answers at once, without the timeout
    b.proc.terminate()
    b.proc.wait(timeout=30)
    stopped = time.monotonic()
    (third_pid, x), _ = result(execute(c.url, sid, f"({MARK}, x)"))
    assert third_pid not in (pid, new_pid) and x == 45
    assert time.monotonic() - stopped < TAKEOVER
    assert until(lambda: len(kernel_launchers(kid)) == 1, 15), kernel_processes(kid)


@pytest.mark.postgres
@pytest.mark.slow
def test_two_workers_one_kernel(cluster: Cluster, postgres_url: str) -> None:
    server = cluster("w", "--workers", "2")
    _, kid, _ = one_kernel_scenario(server.url, [server.url] * 2)
    assert len(kernel_launchers(kid)) == 1, kernel_processes(kid)
    urls = asyncio.run(node_urls(postgres_url))
    assert len(urls) == 2 and server.url not in urls  # each worker has its own address
    # /metrics, whichever worker answers, counts the requests of both
    for worker in sorted(urls):  # each worker's own address: ten requests each
        for _ in range(10):
            assert httpx.get(f"{worker}/healthz").status_code == 200
    for worker in urls:
        assert healthz_count(httpx.get(f"{worker}/metrics").text) == 20


def healthz_count(metrics: str) -> float:
    prefix = 'sessionhub_http_requests_total{method="GET",route="/healthz",status="200"}'
    return sum(float(line.split()[-1]) for line in metrics.splitlines() if line.startswith(prefix))


async def node_urls(url: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        return {row["url"] for row in await conn.fetch("SELECT url FROM nodes")}
    finally:
        await conn.close()


def register_host_machine(database_url: str) -> None:
    """The operator registers a machine that runs on the host (``machines add --host``):
    a sandboxed one would need the network opened to serve its port."""
    add = [sys.executable, "-m", "sessionhub", "machines", "add", "tiny", "--command", TINY,
           "--probe", "http:/", "--startup-timeout", "20", "--host",
           "--database-url", database_url]  # fmt: skip
    done = subprocess.run(add, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 or "already" in done.stderr, done.stderr


def launch_machine(url: str) -> tuple[str, dict[str, Any]]:
    """A machine lease started through ``url``: (session id, attributes once ready)."""
    made = httpx.post(f"{url}/v1/sessions", json={"kind": "machine",
                                                  "attributes": {"machine_id": "tiny"}})  # fmt: skip
    sid = made.json()["id"]
    assert httpx.post(f"{url}/v1/sessions/{sid}/runs", json={}).status_code == 202
    assert until(lambda: bool(attributes(url, sid).get("url")), 30)
    return sid, attributes(url, sid)


def attributes(url: str, sid: str) -> dict[str, Any]:
    found: dict[str, Any] = httpx.get(f"{url}/v1/sessions/{sid}").json()["attributes"]
    return found


@pytest.mark.postgres
@pytest.mark.slow
def test_machine_lease_through_other_nodes(cluster: Cluster, postgres_url: str) -> None:
    a, c = cluster("a"), cluster("c")
    register_host_machine(postgres_url)
    sid, started = launch_machine(a.url)
    seen = attributes(c.url, sid)
    assert seen["url"] == started["url"] and seen["state"] == "ready"
    assert httpx.get(seen["url"]).status_code == 200  # the lease's own server answers
    # cancelled through C: the run's owner (A) hears it through PostgreSQL and kills
    cancelled = httpx.post(f"{c.url}/v1/sessions/{sid}/cancel", timeout=30).json()
    assert cancelled["cancelled"] is True
    assert until(lambda: bool(attributes(c.url, sid).get("end_time")), 20)
    assert until(lambda: gone(started["pid"]), 20)
    assert until(lambda: run_statuses(postgres_url, sid) == ["cancelled"], 10)

    # A dies with a lease running: C marks the run interrupted (A's lock is gone)
    sid, started = launch_machine(a.url)
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait(timeout=10)
    try:
        assert until(lambda: run_statuses(postgres_url, sid) == ["interrupted"], 20), run_statuses(
            postgres_url, sid
        )
        assert httpx.get(f"{c.url}/v1/sessions/{sid}").json()["status"] == "idle"
    finally:
        os.killpg(started["pgid"], signal.SIGKILL)  # the lease A started and left behind


def run_statuses(database_url: str, sid: str) -> list[str]:
    async def read() -> list[str]:
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch("SELECT status FROM runs WHERE session_id = $1", sid)
            return [row["status"] for row in rows]
        finally:
            await conn.close()

    return asyncio.run(read())


def processes_with(needle: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if needle.encode() in cmdline and not gone(int(entry.name)):
                found.append(int(entry.name))
    return found


@pytest.mark.postgres
@pytest.mark.slow
def test_agent_turn_started_on_b_is_cancelled_through_c(
    cluster: Cluster, postgres_url: str
) -> None:
    marker = f"sleep 61.{uuid.uuid4().int % 10_000:04d}"
    script = [{"tools": [("Bash", {"command": f"{marker} && echo done", "timeout": 600_000})]}]
    with FakeLLM(script) as llm:
        agent = {"SESSIONHUB_AGENT_BASE_URL": llm.url, "SESSIONHUB_AGENT_MODEL": "fake"}
        b, c = cluster("b", **agent), cluster("c", **agent)
        sid = httpx.post(f"{b.url}/v1/sessions", json={"kind": "agent"}).json()["id"]
        started = httpx.post(f"{b.url}/v1/sessions/{sid}/runs", json={"input": {"text": "go"}})
        assert started.status_code == 202, started.text
        assert until(lambda: bool(processes_with(marker)), 30), "the tool never started"
        cancelled = httpx.post(f"{c.url}/v1/sessions/{sid}/cancel", timeout=30).json()
        assert cancelled["cancelled"] is True
        assert until(lambda: not processes_with(marker), 20), processes_with(marker)
        assert until(lambda: run_statuses(postgres_url, sid) == ["cancelled"], 20)


def execute_when_free(url: str, sid: str, code: str) -> httpx.Response:
    """Execute, waiting while the kernel is busy with another caller's cell (409)."""
    deadline = time.monotonic() + 60
    while (response := execute(url, sid, code)).status_code == 409:
        assert time.monotonic() < deadline, response.text
        time.sleep(0.05)
    return response


def lease_holders(database_url: str, kernel_id: str) -> list[str]:
    """The nodes holding the kernel's lease (its resource ends with the kernel id)."""

    async def read() -> list[str]:
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch(
                "SELECT owner FROM leases WHERE resource LIKE 'kernel:%:' || $1", kernel_id
            )
            return [row["owner"] for row in rows]
        finally:
            await conn.close()

    return asyncio.run(read())


def at_once(urls: list[str], sid: str, code: str) -> list[httpx.Response]:
    """The same execute sent through each node at the same moment (one thread each)."""
    start = threading.Barrier(len(urls))
    answers: dict[str, httpx.Response] = {}

    def send(url: str) -> None:
        start.wait(timeout=30)
        answers[url] = execute_when_free(url, sid, code)

    racers = [threading.Thread(target=send, args=(url,)) for url in urls]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=120)
    return [answers[url] for url in urls]


@pytest.mark.postgres
@pytest.mark.slow
def test_nodes_racing_the_first_execute_start_one_kernel(
    cluster: Cluster, postgres_url: str
) -> None:
    """Sessions made through the native API have no kernel until their first execute;
    two nodes receiving it at the same moment answer from one kernel."""
    a, b = cluster("a"), cluster("b")
    for _ in range(3):
        sid = httpx.post(f"{a.url}/v1/sessions", json={"kind": "kernel"}).json()["id"]
        answers = at_once([a.url, b.url], sid, MARK)
        marks = {result(answer)[0] for answer in answers}
        assert len(marks) == 1, marks
        kid = attributes(a.url, sid)["kernel_id"]
        assert len(kernel_launchers(kid)) == 1, kernel_processes(kid)
        assert len(lease_holders(postgres_url, kid)) == 1


@pytest.mark.postgres
@pytest.mark.slow
def test_a_non_owner_attaches_lists_and_shuts_down_the_owners_kernel(
    cluster: Cluster, postgres_url: str
) -> None:
    a, b = cluster("a"), cluster("b")
    sid, kid = open_notebook(a.url, f"n-{uuid.uuid4().hex[:6]}.ipynb")
    mark, _ = result(execute(a.url, sid, MARK))
    # a second session on A's kernel, made through B: B forwards it to A
    attached = httpx.post(f"{b.url}/jupyter/api/sessions", timeout=60, json={
        "path": "other.ipynb", "type": "notebook", "kernel": {"id": kid}})  # fmt: skip
    assert attached.status_code == 201, attached.text
    assert attached.json()["kernel"]["id"] == kid
    assert attached.headers["location"] == f"/jupyter/api/sessions/{attached.json()['id']}"
    assert result(execute(b.url, attached.json()["id"], MARK))[0] == mark
    assert len(kernel_launchers(kid)) == 1, kernel_processes(kid)

    # B's lists show the kernel as A has it: idle, with A's one websocket client
    url = a.url.replace("http", "ws", 1) + f"/jupyter/api/kernels/{kid}/channels"
    with connect(url, subprotocols=[V1], open_timeout=30):  # type: ignore[list-item]
        assert until(lambda: httpx.get(f"{a.url}/jupyter/api/kernels/{kid}").json()[
            "connections"] == 1, 10)  # fmt: skip
        listed = httpx.get(f"{b.url}/jupyter/api/sessions").json()
        kernels = {s["kernel"]["id"]: s["kernel"] for s in listed}
        assert (kernels[kid]["execution_state"], kernels[kid]["connections"]) == ("idle", 1)
        [model] = [k for k in httpx.get(f"{b.url}/jupyter/api/kernels").json() if k["id"] == kid]
        assert (model["execution_state"], model["connections"]) == ("idle", 1)

    # shut down through B: A stops the kernel and gives its lease back at once
    [holder] = lease_holders(postgres_url, kid)
    assert httpx.delete(f"{b.url}/jupyter/api/kernels/{kid}", timeout=30).status_code == 204
    assert until(lambda: not kernel_processes(kid), 15), kernel_processes(kid)
    assert lease_holders(postgres_url, kid) == []
    assert holder.startswith("node-")


@pytest.mark.anyio
async def test_a_kernel_shut_down_keeps_no_lease(client: httpx.AsyncClient, app: Any) -> None:
    """A kernel's lease goes when the kernel stops: shut down, or its last session deleted."""
    nodes, workspace = app.state.hub.nodes, app.state.hub.default_workspace_id
    started = await client.post("/jupyter/api/kernels", json={})
    kid = started.json()["id"]
    assert (await client.delete(f"/jupyter/api/kernels/{kid}")).status_code == 204
    assert not await nodes.release(kernel_resource(workspace, kid))
    made = await client.post(
        "/jupyter/api/sessions", json={"path": "gone.ipynb", "type": "notebook"}
    )
    assert made.status_code == 201, made.text
    kid = made.json()["kernel"]["id"]
    assert (await nodes.claim(kernel_resource(workspace, kid))).owner.id == nodes.id
    assert (await client.delete(f"/jupyter/api/sessions/{made.json()['id']}")).status_code == 204
    assert not await nodes.release(kernel_resource(workspace, kid))


@pytest.mark.anyio
async def test_an_unknown_kernel_keeps_no_lease(client: httpx.AsyncClient, app: Any) -> None:
    """Asking for kernel ids nobody runs leaves no lease rows behind (404 as before)."""
    for path in ("/jupyter/api/kernels/nope", "/jupyter/api/kernels/nope/interrupt"):
        method = "GET" if path.endswith("nope") else "POST"
        assert (await client.request(method, path)).status_code == 404
    nodes = app.state.hub.nodes
    resource = kernel_resource(app.state.hub.default_workspace_id, "nope")
    assert not await nodes.release(resource)  # nothing to give back: no row was left


@pytest.mark.postgres
@pytest.mark.slow
def test_jupyterlab_through_b_executes_on_the_kernel_a_owns(cluster: Cluster) -> None:
    """The JupyterLab client (@jupyterlab/services) on node B drives node A's kernel:
    the websocket is forwarded to the owner, so the state set on A is there."""
    a, b = cluster("a"), cluster("b")
    sid, kernel_id = open_notebook(a.url, "lab.ipynb")
    assert result(execute(a.url, sid, "x = 41\nx"))[0] == 41
    project = sdkenv.node_project("jupyterlab-services", JLAB)
    script = Path(__file__).parent / "jlab_connect.js"
    done = sdkenv.run(["node", str(script), f"{b.url}/jupyter", kernel_id, "x + 1"],
                      env={"NODE_PATH": str(project / "node_modules")}, cwd=project,
                      timeout=120)  # fmt: skip
    out = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {}
    assert out == {"kernel": kernel_id, "result": "42", "status": "ok"}, done.stdout + done.stderr
    assert len(kernel_launchers(kernel_id)) == 1, kernel_processes(kernel_id)  # none on B
