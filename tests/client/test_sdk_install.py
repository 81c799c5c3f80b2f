"""``pip install sessionhub`` is the Python SDK alone: no server dependency comes with it.

The SDK is installed into its own virtual environment (cached under ``.envs/``
while ``pyproject.toml`` is unchanged), exactly as a user of the client would
install it, and drives a live server from there.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from sessionhub.testing import sdkenv
from sessionhub.testing.fixtures import LiveServer

ROOT = Path(__file__).parents[2]
SERVER_ONLY = ["fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "asyncpg", "typer",
               "jupyter_client", "openai", "pydantic_settings"]  # fmt: skip

SCRIPT = """
import importlib.util, json, sys
missing = [m for m in sys.argv[2].split(",") if importlib.util.find_spec(m) is None]
import sessionhub
loaded = sorted(m for m in sys.argv[2].split(",") if m in sys.modules)
with sessionhub.Client(base_url=sys.argv[1], api_key="any") as hub:
    session = hub.create_session(title="from the SDK alone")
    hub.append_event(session.id, type="message", role="user", payload={"text": "hi"})
    events = [e.payload for e in hub.iter_events(session.id)]
    try:
        hub.get_session("no-such-session")
        error = None
    except sessionhub.NotFound as exc:
        error = type(exc).__name__
print(json.dumps({"missing": missing, "loaded": loaded, "events": events, "error": error}))
"""


def sdk_python() -> Path:
    """A fresh environment with the base install of this checkout (editable)."""
    stamp = hashlib.sha256(str(ROOT).encode() + (ROOT / "pyproject.toml").read_bytes())
    return sdkenv.python_env(f"sdk-only-{stamp.hexdigest()[:12]}", ["-e", str(ROOT)])


@pytest.mark.slow
def test_the_base_install_is_the_sdk_without_the_server(live_server: LiveServer) -> None:
    python = sdk_python()
    done = sdkenv.run([str(python), "-c", SCRIPT, live_server.url, ",".join(SERVER_ONLY)])
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["missing"] == SERVER_ONLY  # none of the server's dependencies is installed
    assert result["loaded"] == []
    assert result["events"] == [{"text": "hi"}]
    assert result["error"] == "NotFound"


@pytest.mark.slow
def test_the_command_without_the_server_extra_says_how_to_get_it() -> None:
    command = sdk_python().parent / "sessionhub"
    done = sdkenv.run([str(command), "serve"])
    assert done.returncode == 2
    assert "pip install 'sessionhub[server]'" in done.stderr
    assert "Traceback" not in done.stderr
