"""The README is the manual: every setting and every serve flag is in it."""

from __future__ import annotations

from pathlib import Path

import typer.main

from sessionhub.cli import app
from sessionhub.config import Settings

README = (Path(__file__).parents[1] / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    for name in Settings.model_fields:
        assert f"SESSIONHUB_{name.upper()}" in README, name


def test_every_serve_flag_is_documented() -> None:
    group = typer.main.get_command(app)
    serve = group.commands["serve"]  # type: ignore[attr-defined]
    for param in serve.params:
        for flag in getattr(param, "opts", []):
            if flag != "--help":
                assert flag in README, flag


def test_readme_has_the_two_commands_ci_runs() -> None:
    assert "./scripts/serve" in README and "./scripts/test" in README
    ci = (Path(__file__).parents[1] / ".ci" / "run").read_text()
    assert ci.strip().endswith("./scripts/test")
