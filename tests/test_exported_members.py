"""The public API is what ``__all__`` says: nothing more, nothing less (httpx style)."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

import sessionhub
import sessionhub.client


def public_members(module: types.ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if (not name.startswith("_") or name == "__version__")
        and not isinstance(value, types.ModuleType)  # subpackages are not members
    }


@pytest.mark.parametrize("module", [sessionhub, sessionhub.client])
def test_all_imports_are_exported(module: types.ModuleType) -> None:
    assert len(module.__all__) == len(set(module.__all__))
    assert set(module.__all__) == public_members(module)


def test_client_exports_reach_the_top_level() -> None:
    missing = set(sessionhub.client.__all__) - set(sessionhub.__all__)
    # Building blocks for type hints stay in sessionhub.client only.
    assert missing == {
        "ClientState",
        "DEFAULT_BASE_URL",
        "ProgressCallback",
        "SessionFilters",
        "UseClientDefault",
    }


def test_import_does_not_load_the_server() -> None:
    code = (
        "import sys, sessionhub; "
        "heavy = sorted(m for m in sys.modules "
        "if m.split('.')[0] in {'fastapi', 'starlette', 'sqlalchemy', 'uvicorn', 'typer'} "
        "or m.split('.')[:2] in (['sessionhub', 'api'], ['sessionhub', 'store'])); "
        "print(','.join(heavy))"
    )
    src = str(Path(sessionhub.__file__).parent.parent)  # the tree under test
    env = {**os.environ, "PYTHONPATH": src}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert result.stdout.strip() == ""
