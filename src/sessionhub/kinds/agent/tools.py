"""Mix's core tools (names and argument schemas), run inside the session directory.

``Bash`` runs in the server's sandbox (execution/); the file tools run in the
server process and keep their path checks (``inside``)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anyio import to_thread

from sessionhub.execution.sandbox import Sandbox, SandboxSpec, SandboxUnavailable
from sessionhub.files import open_beneath

OUTPUT_LIMIT = 30_000
BASH_DEFAULT_MS, BASH_MAX_MS = 60_000, 600_000
MATCH_LIMIT = 1_000


@dataclass
class Outcome:
    text: str
    is_error: bool = False
    cost: float = 0.0


class ToolError(Exception):
    """A tool failed in a way the model should hear about."""


def inside(base: Path, raw: Any) -> Path:
    if not isinstance(raw, str) or not raw:
        raise ToolError("a path is required")
    target = (base / raw).resolve()
    if not target.is_relative_to(base.resolve()):
        raise ToolError(f"path {raw!r} is outside the session directory")
    return target


def truncate(text: str) -> str:
    if len(text) <= OUTPUT_LIMIT:
        return text
    half = OUTPUT_LIMIT // 2
    dropped = text[half:-half].count("\n")
    return f"{text[:half]}\n\n... [{dropped} lines truncated] ...\n\n{text[-half:]}"


async def run_shell(
    sandbox: Sandbox, command: str, cwd: Path, timeout_s: float, env: dict[str, str] | None = None
) -> tuple[int | None, str, str]:
    """Exit code (None on timeout), stdout, stderr of ``bash -c command`` in the sandbox:
    the session directory its workdir, ``env`` on top of the sandbox's minimal base."""
    spec = SandboxSpec(workdir=cwd, env=env or {})
    try:
        done = await sandbox.run(["bash", "-c", command], spec, timeout=timeout_s)
    except SandboxUnavailable as exc:
        raise ToolError(str(exc)) from None
    out, err = done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
    if done.timed_out:
        return None, out, f"{err}command timed out after {timeout_s:g} s"
    return done.code, out, err


async def bash(sandbox: Sandbox, base: Path, args: dict[str, Any]) -> Outcome:
    command = args.get("command")
    if not isinstance(command, str) or not command.strip():
        raise ToolError("command is required")
    timeout_ms = args.get("timeout") or BASH_DEFAULT_MS
    if not isinstance(timeout_ms, int | float):
        raise ToolError("timeout must be a number of milliseconds")
    timeout = min(max(float(timeout_ms), 1.0), BASH_MAX_MS) / 1000
    code, out, err = await run_shell(sandbox, command, base, timeout)
    text = (out + err).strip()
    if code is None:
        return Outcome(truncate(text), is_error=True)
    if code != 0:
        return Outcome(truncate(f"{text}\nExit code {code}".strip()), is_error=True)
    return Outcome(truncate(text) or "no output")


def _read_text(base: Path, path: Path, offset: int, limit: int) -> str:
    lines = _lines(base.resolve(), path)
    chosen = lines[offset - 1 : offset - 1 + limit]
    return "\n".join(f"{offset + i:6d}\t{line}" for i, line in enumerate(chosen))


async def read_text(base: Path, args: dict[str, Any]) -> Outcome:
    path = inside(base, args.get("file_path"))
    if not path.is_file():
        raise ToolError(f"file not found: {args.get('file_path')}")
    offset = max(1, int(args.get("offset") or 1))
    limit = max(1, int(args.get("limit") or 2000))
    return Outcome(truncate(await to_thread.run_sync(_read_text, base, path, offset, limit)))


def _write(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)


async def write(base: Path, args: dict[str, Any]) -> Outcome:
    path = inside(base, args.get("file_path"))
    content = args.get("content")
    if not isinstance(content, str):
        raise ToolError("content is required")
    await to_thread.run_sync(_write, path, content)
    return Outcome(f"Wrote {len(content.encode())} bytes to {path.relative_to(base.resolve())}")


def _edit(path: Path, old: str, new: str, replace_all: bool) -> int:
    text = path.read_text()
    count = text.count(old)
    if count == 0:
        raise ToolError("old_string was not found in the file")
    if count > 1 and not replace_all:
        raise ToolError(f"old_string occurs {count} times; pass replace_all or add context")
    path.write_text(text.replace(old, new) if replace_all else text.replace(old, new, 1))
    return count if replace_all else 1


async def edit(base: Path, args: dict[str, Any]) -> Outcome:
    path = inside(base, args.get("file_path"))
    old, new = args.get("old_string"), args.get("new_string")
    if not isinstance(old, str) or not old or not isinstance(new, str):
        raise ToolError("old_string and new_string are required")
    if not path.is_file():
        raise ToolError(f"file not found: {args.get('file_path')}")
    count = await to_thread.run_sync(_edit, path, old, new, bool(args.get("replace_all")))
    return Outcome(f"Replaced {count} occurrence(s)")


def _glob(base: Path, root: Path, pattern: str) -> list[str]:
    real = base.resolve()
    found = [p for p in root.glob(pattern) if p.resolve().is_relative_to(real)]
    return sorted(str(p.relative_to(real)) for p in found)[:MATCH_LIMIT]


async def glob(base: Path, args: dict[str, Any]) -> Outcome:
    pattern = args.get("pattern")
    if not isinstance(pattern, str) or not pattern or pattern.startswith("/"):
        raise ToolError("pattern is required and must be relative")
    root = inside(base, args.get("path") or ".")
    matches = await to_thread.run_sync(_glob, base, root, pattern)
    return Outcome("\n".join(matches) or "no files found")


def _grep(base: Path, root: Path, regex: re.Pattern[str], glob_: str | None, mode: str) -> str:
    real = base.resolve()
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    lines: list[str] = []
    for path in files:
        rel = str(path.relative_to(real))
        if glob_ and not fnmatch.fnmatch(path.name, glob_) and not fnmatch.fnmatch(rel, glob_):
            continue
        hits = [(n, line) for n, line in enumerate(_lines(real, path), 1) if regex.search(line)]
        if not hits:
            continue
        if mode == "content":
            lines.extend(f"{rel}:{n}:{line}" for n, line in hits)
        elif mode == "count":
            lines.append(f"{rel}:{len(hits)}")
        else:
            lines.append(rel)
        if len(lines) >= MATCH_LIMIT:
            break
    return "\n".join(lines[:MATCH_LIMIT])


def _lines(real_base: Path, path: Path) -> list[str]:
    """The file's lines, opened as the files API opens one: no symlink at any step (the
    tenant's code may plant one to another tenant's file); nothing for one that is."""
    handle = open_beneath(real_base, str(path.relative_to(real_base)))
    if handle is None:
        return []
    with handle:
        return handle.read().decode(errors="replace").splitlines()


async def grep(base: Path, args: dict[str, Any]) -> Outcome:
    try:
        regex = re.compile(str(args.get("pattern") or ""))
    except re.error as exc:
        raise ToolError(f"invalid pattern: {exc}") from None
    if not args.get("pattern"):
        raise ToolError("pattern is required")
    mode = str(args.get("output_mode") or "files_with_matches")
    if mode not in ("content", "files_with_matches", "count"):
        raise ToolError("output_mode must be content, files_with_matches or count")
    root = inside(base, args.get("path") or ".")
    glob_ = args.get("glob") if isinstance(args.get("glob"), str) else None
    text = await to_thread.run_sync(_grep, base, root, regex, glob_, mode)
    return Outcome(truncate(text) or "no matches")


Handler = Callable[[Path, dict[str, Any]], Awaitable[Outcome]]
HANDLERS: dict[str, Handler] = {
    "ReadText": read_text, "Write": write, "Edit": edit, "Glob": glob, "Grep": grep,
}  # fmt: skip


def function_spec(
    name: str, description: str, props: dict[str, Any], required: list[str]
) -> dict[str, Any]:
    schema = {"type": "object", "properties": props, "required": required}
    return {"type": "function",
            "function": {"name": name, "description": description, "parameters": schema}}  # fmt: skip


S, N, B = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
TODO = {"type": "object", "required": ["id", "content", "status"], "properties": {
    "id": S, "content": S, "status": {"type": "string",
                                      "enum": ["pending", "in_progress", "completed"]}}}  # fmt: skip
SPECS: list[dict[str, Any]] = [
    function_spec("Bash", "Run a shell command in the session directory.",
        {"command": S, "timeout": N, "description": S}, ["command"]),
    function_spec("ReadText", "Read a text file (numbered lines).",
        {"file_path": S, "offset": N, "limit": N}, ["file_path"]),
    function_spec("Write", "Write a file.", {"file_path": S, "content": S}, ["file_path", "content"]),
    function_spec("Edit", "Replace text in a file.",
        {"file_path": S, "old_string": S, "new_string": S, "replace_all": B},
        ["file_path", "old_string", "new_string"]),
    function_spec("Glob", "Find files by glob pattern.", {"pattern": S, "path": S}, ["pattern"]),
    function_spec("Grep", "Search file contents with a regular expression.",
        {"pattern": S, "path": S, "glob": S,
         "output_mode": {"type": "string", "enum": ["content", "files_with_matches", "count"]}},
        ["pattern"]),
    function_spec("TodoWrite", "Replace the session's todo list.",
        {"todos": {"type": "array", "items": TODO}}, ["todos"]),
    function_spec("Task", "Delegate a task to a general-purpose subagent and return its answer.",
        {"description": S, "prompt": S,
         "subagent_type": {"type": "string", "enum": ["general-purpose"]}}, ["prompt"]),
]  # fmt: skip
