"""The floor plan holds: import-linter's contracts (pyproject.toml), no import loop,
and only the core holds the store. See docs/architecture.md."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "src" / "sessionhub"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(*, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(ROOT / "pyproject.toml")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_the_import_contracts_are_kept() -> None:
    done = lint_imports()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_an_import_that_breaks_the_plan_is_caught(tmp_path: Path) -> None:
    """The contracts can fail: the core reaching up into a kind breaks the floor plan."""
    copy = tmp_path / "sessionhub"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    service = copy / "core" / "service.py"
    service.write_text(service.read_text() + "\nimport sessionhub.kinds.agent.loop  # noqa\n")
    done = lint_imports(pythonpath=tmp_path)
    assert done.returncode == 1
    assert "The floor plan: each layer imports only the layers below it BROKEN" in done.stdout
    assert "sessionhub.core.service -> sessionhub.kinds.agent.loop" in done.stdout


def import_loops(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of modules (Tarjan), counting every import:
    function-level ones and those under ``TYPE_CHECKING`` too."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    loops: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in graph.find_modules_directly_imported_by(module):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = stack[stack.index(module) :]
            del stack[stack.index(module) :]
            if len(group) > 1:
                loops.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))
    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return loops


def test_there_is_no_import_loop() -> None:
    assert import_loops(grimp.build_graph("sessionhub", cache_dir=None)) == []


def python_files(*, outside: tuple[str, ...]) -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        part = path.relative_to(PACKAGE).parts[0]
        if part not in outside:
            yield path, ast.parse(path.read_text(), str(path))


@pytest.mark.parametrize("attribute", ["store"])
def test_only_the_core_holds_the_store(attribute: str) -> None:
    reached = [
        f"{path.relative_to(PACKAGE)}:{node.lineno}"
        for path, tree in python_files(outside=("store", "core", "testing"))
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == attribute
    ]
    assert reached == []


def string_keyed_attribute_read(node: ast.AST) -> bool:
    """``x.attributes["key"]`` or ``x.attributes.get("key")``."""
    if isinstance(node, ast.Subscript):
        target, key = node.value, node.slice
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
        if node.func.attr != "get":
            return False
        target, key = node.func.value, node.args[0]
    else:
        return False
    is_attributes = isinstance(target, ast.Attribute) and target.attr == "attributes"
    return is_attributes and isinstance(key, ast.Constant) and isinstance(key.value, str)


def test_session_attributes_are_read_through_the_kinds_typed_models() -> None:
    """Each kind reads its attributes through ``domain/attributes/<kind>.py``."""
    reads = [
        f"{path.relative_to(PACKAGE)}:{node.lineno}"
        for path, tree in python_files(outside=("testing", "domain"))
        for node in ast.walk(tree)
        if string_keyed_attribute_read(node) and "migrations" not in path.parts
    ]
    assert reads == []
