"""Start-up and CLI mistakes: one line on stderr, a non-zero exit, nothing created or printed.

Each test runs the real command (``python -m sessionhub …``) as a subprocess, from a
folder of its own, with no ``SESSIONHUB_*`` setting but the ones it gives.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import sessionhub
from sessionhub.domain.errors import Conflict
from sessionhub.serving import data_dir_lock
from sessionhub.testing.fixtures import PG_ADMIN_URL, free_port

NOBODY = 65534
needs_postgres = pytest.mark.skipif(
    os.environ.get("SESSIONHUB_TEST_SKIP_POSTGRES") == "1", reason="SESSIONHUB_TEST_SKIP_POSTGRES=1"
)


def environment(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONHUB_")}
    env.update({f"SESSIONHUB_{name.upper()}": value for name, value in settings.items()})
    return env


def run_cli(
    *args: str, cwd: Path, python: str = sys.executable, **run: Any
) -> subprocess.CompletedProcess[str]:
    command = [python, "-m", "sessionhub", *args]
    run.setdefault("env", environment())
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=60, **run)


def assert_one_line(result: subprocess.CompletedProcess[str], code: int, *says: str) -> str:
    """Exit ``code``, nothing on stdout, and one ``error:`` line on stderr saying ``says``."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for words in says:
        assert words in lines[0]
    return lines[0]


def serve(data_dir: Path, *flags: str, port: int | None = None) -> list[str]:
    return ["serve", "--data-dir", str(data_dir), "--port", str(port or free_port()), *flags]


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Servers a test starts; each is stopped by its pid when the test ends."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=20)


def start_server(procs: list[subprocess.Popen[bytes]], cwd: Path, *args: str, **env: str) -> str:
    """A ``sessionhub serve`` in the background; its URL once it answers (30 s at most)."""
    port = free_port()
    command = [sys.executable, "-m", "sessionhub", *args, "--port", str(port)]
    with open(cwd / f"server-{port}.log", "wb") as log:
        procs.append(
            subprocess.Popen(command, cwd=cwd, env=environment(**env), stdout=log, stderr=log)
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and procs[-1].poll() is None:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError((cwd / f"server-{port}.log").read_text()[-3000:])


def test_unreachable_database(tmp_path: Path) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/sessionhub"
    result = run_cli(*serve(tmp_path / "data", "--database-url", url), cwd=tmp_path)
    assert_one_line(result, 1, "cannot reach the database at", url, "--database-url")
    assert not (tmp_path / "data").exists()
    admin = run_cli("keys", "list", "--database-url", url, cwd=tmp_path)
    assert_one_line(admin, 1, "cannot reach the database at", url)


@needs_postgres
def test_missing_database(tmp_path: Path) -> None:
    name = f"sessionhub_missing_{uuid.uuid4().hex[:8]}"
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    result = run_cli(*serve(tmp_path / "data", "--database-url", url), cwd=tmp_path)
    line = assert_one_line(result, 1, f'database "{name}" does not exist')
    host = PG_ADMIN_URL.split("@", 1)[1].split(":", 1)[0].split("/", 1)[0]
    assert f"createdb -h {host} -U postgres {name}" in line
    assert not (tmp_path / "data").exists()


def test_unsupported_database_scheme(tmp_path: Path) -> None:
    result = run_cli(*serve(tmp_path / "data", "--database-url", "mysql://u@h/db"), cwd=tmp_path)
    assert_one_line(result, 2, "--database-url", "unsupported database URL scheme 'mysql'")
    assert not (tmp_path / "data").exists()


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder another user may enter but not write (tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="sessionhub-startup-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def as_nobody() -> dict[str, Any]:
    """Run options for a subprocess as user nobody, through an interpreter nobody can reach.

    Root writes anywhere, so a folder root cannot write needs another user; this
    interpreter may live under /root, so the same Python from the system's folders
    runs the installed packages.
    """
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = shutil.which(version, path="/usr/local/bin:/usr/bin")
    if system is None:
        pytest.skip(f"no system {version} to run as another user")
    package = Path(sessionhub.__file__).parents[1]
    path = os.pathsep.join([str(package), sysconfig.get_paths()["purelib"]])
    env = {**environment(), "PYTHONPATH": path}
    return {"user": NOBODY, "group": NOBODY, "extra_groups": [], "env": env, "python": system}


def test_data_dir_not_writable(shared_folder: Path) -> None:
    if os.geteuid() == 0:
        run = as_nobody()
    else:
        shared_folder.chmod(0o555)
        run = {}
    data = shared_folder / "data"
    result = run_cli(*serve(data), cwd=shared_folder, **run)
    assert_one_line(result, 1, f"data dir {data} is not writable", "--data-dir")
    admin = run_cli("keys", "list", "--data-dir", str(data), cwd=shared_folder, **run)
    assert_one_line(admin, 1, "cannot open the SQLite database", "Permission denied")
    assert list(shared_folder.iterdir()) == []


def test_data_dir_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    result = run_cli(*serve(tmp_path / "a-file" / "data"), cwd=tmp_path)
    assert_one_line(result, 1, "cannot be created", "is a file", "--data-dir")


def test_bad_log_level(tmp_path: Path) -> None:
    result = run_cli(*serve(tmp_path / "data", "--log-level", "LOUD"), cwd=tmp_path)
    assert_one_line(result, 2, "--log-level", "'DEBUG'", "not 'LOUD'")
    from_env = run_cli(*serve(tmp_path / "data"), cwd=tmp_path, env=environment(log_level="LOUD"))
    assert_one_line(from_env, 2, "SESSIONHUB_LOG_LEVEL", "not 'LOUD'")
    assert not (tmp_path / "data").exists()


def test_export_into_a_missing_folder(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "out.json"
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens: the check comes first
    result = run_cli("sessions", "--url", url, "export", "s1", "-o", str(target), cwd=tmp_path)
    assert_one_line(result, 2, f"cannot write {target}", "does not exist")
    assert list(tmp_path.iterdir()) == []


def test_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(*serve(tmp_path / "data", port=port), cwd=tmp_path)
    assert_one_line(result, 1, f"port {port} on 127.0.0.1 is already in use", "--port")
    assert "admin API key" not in result.stdout + result.stderr
    assert not (tmp_path / "data").exists()


def test_second_server_on_a_sqlite_data_dir(
    tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    data = tmp_path / "data"
    start_server(started, tmp_path, "serve", "--data-dir", str(data))
    first = started[0]
    second = run_cli(*serve(data), cwd=tmp_path)
    line = assert_one_line(second, 1, f"data dir {data} is in use", "another sessionhub server")
    assert f"(pid {first.pid})" in line
    first.terminate()
    first.wait(timeout=20)
    with data_dir_lock(data):  # the first one's lock went with it
        pass


def test_data_dir_lock_is_one_holder_at_a_time(tmp_path: Path) -> None:
    held = pytest.raises(Conflict, match=f"pid {os.getpid()}")
    with data_dir_lock(tmp_path), held, data_dir_lock(tmp_path):
        pass


@needs_postgres
def test_postgres_servers_share_a_data_dir(
    tmp_path: Path, postgres_url: str, started: list[subprocess.Popen[bytes]]
) -> None:
    """The lock is SQLite's: on PostgreSQL, N workers and a second server run side by side."""
    data = str(tmp_path / "data")
    many = start_server(started, tmp_path, "serve", "--workers", "2", database_url=postgres_url,
                        data_dir=data, no_auth="1")  # fmt: skip
    one = start_server(started, tmp_path, "serve", database_url=postgres_url, data_dir=data,
                       no_auth="1")  # fmt: skip
    created = httpx.post(f"{many}/v1/sessions", json={"kind": "generic"}).json()
    assert httpx.get(f"{one}/v1/sessions/{created['id']}").status_code == 200


@pytest.mark.parametrize("command", [["keys", "list"], ["machines", "ls"], ["db", "upgrade"]])
def test_admin_cli_refuses_a_database_it_was_not_pointed_at(
    tmp_path: Path, command: list[str]
) -> None:
    result = run_cli(*command, cwd=tmp_path)
    default = tmp_path / ".sessionhub" / "sessionhub.db"
    assert_one_line(
        result, 1, f"no sessionhub database at {default}", "--data-dir", "--database-url"
    )
    assert list(tmp_path.iterdir()) == []


def test_admin_cli_uses_the_default_database_when_it_is_there(tmp_path: Path) -> None:
    made = run_cli("db", "upgrade", "--data-dir", ".sessionhub", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    listed = run_cli("keys", "list", cwd=tmp_path)
    assert listed.returncode == 0 and listed.stderr == "", listed.stderr
