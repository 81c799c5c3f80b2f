"""The tenant-escape suite for kernels: code of workspace ``alpha`` sees its own session only.

One live server per database (SQLite, then PostgreSQL) with two workspaces, each with a
kernel session; ``beta`` has uploaded a secret file. Every probe runs as alpha's code,
through the native ``POST /v1/sessions/{id}/execute`` and through the Jupyter kernel
websocket, and reports what it reached; the host then checks what it left behind.

Run with ``SESSIONHUB_SANDBOX=none`` and the attacker tests fail (they reach it all);
the environment test keeps passing there, since unsandboxed kernels still start with
the allowlisted environment.
"""

from __future__ import annotations

import ast
import asyncio
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from sessionhub import Client
from sessionhub.api.app import create_app
from sessionhub.config import Settings
from sessionhub.core.hub import open_admin
from sessionhub.domain.errors import Interrupted
from sessionhub.testing.fixtures import LiveServer, create_pg_database, drop_pg_database
from tests.api.dialects.jupyter.conftest import Jupyter
from tests.api.dialects.jupyter.test_transcript import run_cell

MARKER = f"sk-escape-marker-{uuid.uuid4().hex}"
SECRET = f"beta's secret {uuid.uuid4().hex}"
PG_PORT = 5432
MEMORY_MB = 256  # each kernel's limit: a cgroup here (RLIMIT_AS where none can be made)
# allocates well past the limit and writes to every page, so the memory is really used
# (bytearray zero-fills it too; the writes make it plain), bounded at 600 MiB
HOG = """
b = bytearray(600 * 2**20)
for page in range(0, len(b), 4096):
    b[page] = 1
'allocated'"""


@dataclass
class Tenant:
    key: str
    session_id: str
    kernel_id: str
    jupyter: Jupyter


@dataclass
class World:
    server: LiveServer
    settings: Settings
    alpha: Tenant
    beta: Tenant
    secret_path: Path

    @property
    def port(self) -> int:
        return int(self.server.url.rsplit(":", 1)[1])

    def host_dir(self, tenant: Tenant) -> Path:
        hub = self.server.server.config.app.state.hub
        native = tenant.jupyter.http.get(f"{self.server.url}/v1/sessions/{tenant.session_id}")
        return Path(hub.service.files.directory(native.json()["workspace_id"], tenant.session_id))

    def connection_file(self, tenant: Tenant) -> Path:
        hub = self.server.server.config.app.state.hub
        manager = hub.service.drivers.get("kernel").manager.get_kernel(tenant.kernel_id)
        return Path(manager.connection_file)


async def admin_key(settings: Settings, workspace: str) -> str:
    async with open_admin(settings) as admin:
        workspace_id = await admin.workspace_id(workspace)
        return (await admin.keys.create(workspace_id, "attacker", admin=True)).secret


def tenant(server: LiveServer, settings: Settings, workspace: str) -> Tenant:
    key = asyncio.run(admin_key(settings, workspace))
    jupyter = Jupyter(server, key)
    made = jupyter.http.post("api/sessions", json={"path": "a.ipynb", "type": "notebook"})
    assert made.status_code == 201, made.text
    return Tenant(key, made.json()["id"], made.json()["kernel"]["id"], jupyter)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The server runs with a provider key in its settings and its own environment."""
    root = tmp_path_factory.mktemp("escape")
    database = f"sqlite:///{root}/data/sessionhub.db"
    if request.param == "postgres":
        if os.environ.get("SESSIONHUB_TEST_SKIP_POSTGRES") == "1":
            pytest.skip("SESSIONHUB_TEST_SKIP_POSTGRES=1")
        database = create_pg_database()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SESSIONHUB_AGENT_API_KEY", MARKER)
        settings = Settings(
            data_dir=root / "data", database_url=database, no_auth=False,
            sandbox_memory_mb=MEMORY_MB,
        )  # fmt: skip
        assert settings.agent_api_key == MARKER
        server = LiveServer(create_app(settings)).__enter__()
        tenants: list[Tenant] = []
        try:
            tenants += [tenant(server, settings, "alpha"), tenant(server, settings, "beta")]
            alpha, beta = tenants
            put = httpx.put(
                f"{server.url}/v1/sessions/{beta.session_id}/files/secret.txt",
                content=SECRET.encode(), headers={"Authorization": f"Bearer {beta.key}"},
            )  # fmt: skip
            assert put.status_code in (200, 201), put.text
            made = World(server, settings, alpha, beta, Path())
            made.secret_path = made.host_dir(beta) / "secret.txt"
            assert made.secret_path.read_text() == SECRET
            yield made
        finally:
            for made_tenant in tenants:
                made_tenant.jupyter.http.close()
            server.__exit__(None, None, None)
            if request.param == "postgres":
                drop_pg_database(database)


def native(world: World, code: str) -> Any:
    """Alpha's code through ``POST /v1/sessions/{id}/execute``: its last expression's value."""
    with Client(base_url=world.server.url, api_key=world.alpha.key) as client:
        event = client.execute(world.alpha.session_id, code, run_timeout=60)
    return value_of(event.payload)


def value_of(payload: dict[str, Any]) -> Any:
    outputs = payload["outputs"]
    results = [o for o in outputs if o["output_type"] == "execute_result"]
    assert results, f"no result: {outputs}"
    return ast.literal_eval(results[0]["data"]["text/plain"])


def websocket(world: World, code: str) -> Any:
    """Alpha's code through the Jupyter kernel websocket."""
    return ast.literal_eval(run_cell(world.alpha.jupyter, world.alpha.kernel_id, code))


Run = Callable[[World, str], Any]
THROUGH = [pytest.param(native, id="native"), pytest.param(websocket, id="websocket")]


def attempt(expression: str) -> str:
    """Code whose value is what ``expression`` gave, or the name of the error it raised."""
    return f"""
def _attempt():
    try:
        return {expression}
    except BaseException as error:
        return type(error).__name__
_attempt()"""


# attacker tests
@pytest.mark.parametrize("run", THROUGH)
def test_no_server_variable_or_provider_key_in_the_environment(world: World, run: Run) -> None:
    leaked = run(world, "import os\n[k for k, v in os.environ.items() if "
                 f"k.startswith(('SESSIONHUB', 'PG', 'DATABASE')) or {MARKER!r} in v]")  # fmt: skip
    assert leaked == []


@pytest.mark.parametrize("run", THROUGH)
def test_another_workspace_file_is_unreadable_by_absolute_path(world: World, run: Run) -> None:
    got = run(world, attempt(f"open({str(world.secret_path)!r}).read()"))
    assert got != SECRET and got in ("FileNotFoundError", "PermissionError")
    found = run(world, attempt(
        f"[open(p).read() for p in __import__('glob').glob({str(world.settings.data_dir)!r} "
        "+ '/**/secret.txt', recursive=True)]"
    ))  # fmt: skip
    assert found == []


def test_the_database_and_the_data_dir_are_invisible(world: World) -> None:
    data_dir = world.settings.data_dir.absolute()
    assert (data_dir / "runtime").is_dir()  # on the host, it is there
    seen = native(world, attempt(f"sorted(__import__('os').listdir({str(data_dir)!r}))"))
    assert seen in ("FileNotFoundError", "PermissionError", ["runtime"]), seen
    database = data_dir / "sessionhub.db"
    assert native(world, f"import os\nos.path.exists({str(database)!r})") is False
    assert native(world, f"import os\nos.path.exists({str(world.host_dir(world.beta))!r})") is False


def test_nothing_written_outside_the_session_directory_reaches_the_host(world: World) -> None:
    name = f"escape-{uuid.uuid4().hex}"
    targets = [
        Path("/tmp") / name, world.settings.data_dir.absolute() / name,
        world.host_dir(world.alpha).parent / name, world.host_dir(world.beta) / name,
        Path("/root") / name, Path("/var/tmp") / name,
    ]  # fmt: skip
    for target in targets:
        native(world, attempt(f"open({str(target)!r}, 'w').write('x')"))
    assert [t for t in targets if t.exists()] == []
    assert native(world, f"open({name!r}, 'w').write('mine')") == 4  # its own directory: yes
    assert (world.host_dir(world.alpha) / name).read_text() == "mine"


@pytest.mark.parametrize("run", THROUGH)
def test_the_server_port_and_postgresql_are_unreachable(world: World, run: Run) -> None:
    for port in (world.port, PG_PORT):
        got = run(world, attempt(
            f"__import__('socket').create_connection(('127.0.0.1', {port}), timeout=2).close()"
        ))  # fmt: skip
        assert got in ("OSError", "ConnectionRefusedError", "TimeoutError"), f"{port}: {got}"
    with socket.create_connection(("127.0.0.1", world.port), timeout=2):
        pass  # the host reaches it: the probe above tested the sandbox, not a dead port


def test_another_kernels_connection_file_is_unreadable(world: World) -> None:
    theirs = world.connection_file(world.beta)
    assert theirs.is_file() and '"key"' in theirs.read_text()
    got = native(world, attempt(f"open({str(theirs)!r}).read()"))
    assert got in ("FileNotFoundError", "PermissionError"), "beta's kernel key was read"
    runtime = theirs.parent.parent
    listed = native(world, f"import glob\nglob.glob({str(runtime)!r} + '/*/kernel-*.json')")
    assert listed == [str(world.connection_file(world.alpha))]  # its own only


@pytest.mark.parametrize("run", THROUGH)
def test_proc_shows_only_the_sandbox(world: World, run: Run) -> None:
    pids = run(world, "import os\n[int(p) for p in os.listdir('/proc') if p.isdigit()]")
    assert len(pids) < 10, f"{len(pids)} processes visible"
    first = run(world, attempt("open('/proc/1/environ', 'rb').read().decode(errors='replace')"))
    assert MARKER not in first and "SESSIONHUB_" not in first
    server = run(world, attempt(f"open('/proc/{os.getpid()}/environ', 'rb').read()[:0]"))
    assert server in ("FileNotFoundError", "PermissionError", "ProcessLookupError"), server


def test_a_memory_hog_ends_in_memory_error_or_a_dead_kernel(world: World) -> None:
    """Touching 600 MiB under a 256 MiB limit: the cgroup kills the kernel (reported
    dead or restarted), or, without a cgroup, RLIMIT_AS makes it a ``MemoryError``.
    The server keeps answering, and another session's kernel runs on."""
    with Client(base_url=world.server.url, api_key=world.alpha.key) as client:
        try:
            event = client.execute(world.alpha.session_id, HOG, run_timeout=60)
        except Interrupted as error:  # the kernel died under it: reported, not a dead server
            assert "died" in str(error), error
        else:
            outputs = event.payload["outputs"]
            assert event.payload["status"] == "error", f"not limited: {outputs}"
            assert outputs[-1]["ename"] == "MemoryError", outputs
    assert world.alpha.jupyter.http.get("api/kernels").status_code == 200
    with Client(base_url=world.server.url, api_key=world.beta.key) as client:
        event = client.execute(world.beta.session_id, "6 * 7", run_timeout=60)
    assert value_of(event.payload) == 42


# positive controls
@pytest.mark.parametrize("run", THROUGH)
def test_its_own_directory_the_standard_library_and_packages_work(world: World, run: Run) -> None:
    assert (
        run(world, "import ipykernel, json, sqlite3\njson.dumps([ipykernel.__name__])")
        == '["ipykernel"]'
    )
    assert run(world, "import os\nopen('own.txt', 'w').write('ok')\nopen('own.txt').read()") == "ok"
    assert run(world, "import os\nos.path.exists('own.txt') and os.access('.', os.W_OK)") is True


def test_a_file_written_by_a_cell_is_served_by_the_files_api(world: World) -> None:
    native(world, "open('report.csv', 'w').write('a,b\\n1,2\\n')")
    served = httpx.get(
        f"{world.server.url}/v1/sessions/{world.alpha.session_id}/files/report.csv",
        headers={"Authorization": f"Bearer {world.alpha.key}"},
    )  # fmt: skip
    assert served.status_code == 200 and served.text == "a,b\n1,2\n"
