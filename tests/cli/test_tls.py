"""``serve --ssl-certfile/--ssl-keyfile`` (and SESSIONHUB_SSL_*): HTTPS through uvicorn,
with a certificate made for the test (trustme)."""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme

from sessionhub.testing.fixtures import free_port
from tests.cli.test_startup import assert_one_line, environment, run_cli


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def cert_files(ca: trustme.CA, tmp_path: Path) -> tuple[Path, Path]:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_pem.write_to_path(str(keyfile))
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    return certfile, keyfile


@pytest.fixture
def server_log(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=20)


def start(
    procs: list[subprocess.Popen[bytes]], cwd: Path, flags: list[str], ca: trustme.CA, **env: str
) -> str:
    port = free_port()
    command = [sys.executable, "-m", "sessionhub", "serve", "--no-auth", "--port", str(port)]
    log = cwd / "server.log"
    argv = [*command, "--data-dir", str(cwd / "data"), *flags]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=cwd, env=environment(**env), stdout=out, stderr=out)
    procs.append(proc)
    context = ssl.create_default_context()
    ca.configure_trust(context)
    url = f"https://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and procs[-1].poll() is None:
        try:
            if httpx.get(f"{url}/healthz", verify=context, timeout=2).status_code == 200:
                return url
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(log.read_text()[-3000:])


def test_serve_over_https(
    cert_files: tuple[Path, Path], ca: trustme.CA, tmp_path: Path,
    server_log: list[subprocess.Popen[bytes]],
) -> None:  # fmt: skip
    certfile, keyfile = cert_files
    flags = ["--ssl-certfile", str(certfile), "--ssl-keyfile", str(keyfile)]
    url = start(server_log, tmp_path, flags, ca)
    context = ssl.create_default_context()
    ca.configure_trust(context)
    answer = httpx.get(f"{url}/v1/sessions", verify=context, timeout=10)
    assert answer.status_code == 200
    with pytest.raises(httpx.TransportError):  # an untrusted certificate is refused
        httpx.get(f"{url}/healthz", timeout=10)
    with pytest.raises(httpx.TransportError):  # plain HTTP gets no answer
        httpx.get(url.replace("https", "http") + "/healthz", timeout=10)
    assert f"listening on {url}" in (tmp_path / "server.log").read_text()


def test_tls_settings_from_the_environment(
    cert_files: tuple[Path, Path], ca: trustme.CA, tmp_path: Path,
    server_log: list[subprocess.Popen[bytes]],
) -> None:  # fmt: skip
    certfile, keyfile = cert_files
    url = start(server_log, tmp_path, [], ca, ssl_certfile=str(certfile), ssl_keyfile=str(keyfile))
    assert url.startswith("https://")


def test_a_bad_certificate_is_one_line(tmp_path: Path) -> None:
    bogus = tmp_path / "cert.pem"
    bogus.write_text("not a certificate")
    result = run_cli(
        "serve", "--data-dir", str(tmp_path / "data"), "--port", str(free_port()),
        "--ssl-certfile", str(bogus), cwd=tmp_path,
    )  # fmt: skip
    assert_one_line(result, 2, "--ssl-certfile", "cannot load the certificate")
    assert not (tmp_path / "data").exists()


def test_a_key_without_a_certificate_is_one_line(
    cert_files: tuple[Path, Path], tmp_path: Path
) -> None:
    result = run_cli(
        "serve", "--data-dir", str(tmp_path / "data"), "--port", str(free_port()),
        "--ssl-keyfile", str(cert_files[1]), cwd=tmp_path,
    )  # fmt: skip
    assert_one_line(result, 2, "--ssl-keyfile", "needs --ssl-certfile")
