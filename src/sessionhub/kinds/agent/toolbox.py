"""Mix's other core tools — ReadMedia, Show, Search, ExitPlanMode — and plan mode's rule.

ReadMedia sends images to the configured provider (an OpenAI-compatible
endpoint takes images, not audio or video, in chat messages). Search needs a
web search provider, which sessionhub does not have, so it answers with a
clear tool error instead of inventing results.
"""

from __future__ import annotations

import base64
import json
import mimetypes
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from anyio import to_thread

from sessionhub.kinds.agent import tools
from sessionhub.kinds.agent.tools import Outcome, ToolError, inside

# the tools plan mode refuses until ExitPlanMode: they change files or run things
MUTATING = frozenset({"Bash", "Write", "Edit", "Task"})
PLAN_PROMPT = (
    "Plan mode is on: do not change anything yet. Investigate with read-only tools, "
    "then present your plan with the ExitPlanMode tool; Bash, Write, Edit and Task are "
    "refused until you have."
)
MEDIA_SUFFIXES = {
    "image": (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp"),
    "audio": (".mp3", ".wav", ".m4a", ".aac", ".ogg", ".flac"),
    "video": (".mp4", ".avi", ".mov", ".wmv", ".flv", ".webm", ".mkv"),
}
MEDIA_FILES_LIMIT = 20
MEDIA_BYTES_LIMIT = 20 * 1024 * 1024
SHOW_TYPES = ("image", "video", "audio", "pdf", "csv", "markdown", "json", "status")
INLINE_TYPES = ("markdown", "json", "status")

Describe = Callable[[str, str], Awaitable[tuple[str, float]]]  # (prompt, data URL)


def plan_refusal(name: str) -> Outcome:
    return Outcome(f"{name} is not allowed in plan mode: present your plan with ExitPlanMode "
                   "first", is_error=True)  # fmt: skip


def exit_plan_mode(args: dict[str, Any]) -> Outcome:
    plan = args.get("plan")
    if not isinstance(plan, str) or not plan.strip():
        raise ToolError("plan is required")
    return Outcome(f"Plan mode is over; carry out the plan:\n\n{plan}")


# ReadMedia


def media_request(args: dict[str, Any]) -> tuple[str, str, str]:
    """(path, media type, prompt), checked as Mix checks them."""
    file_path, directory = args.get("file_path"), args.get("directory_path")
    if file_path and directory:
        raise ToolError("cannot specify both file_path and directory_path")
    if not file_path and not directory:
        raise ToolError("must specify either file_path or directory_path")
    kind = args.get("media_type")
    if kind not in MEDIA_SUFFIXES:
        raise ToolError("media_type must be 'image', 'audio', or 'video'")
    prompt = args.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise ToolError("prompt is required")
    if kind == "audio" and args.get("audio_mode") not in ("transcript", "description"):
        raise ToolError("audio_mode must be 'transcript' or 'description' for audio")
    if kind == "video" and args.get("video_mode") != "description":
        raise ToolError("video_mode must be 'description' for video")
    words = args.get("word_count")
    if words is not None and (not isinstance(words, int) or not 50 <= words <= 1000):
        raise ToolError("word_count must be between 50 and 1000")
    target = str(file_path or directory)
    if target.startswith(("http://", "https://")):
        raise ToolError("URLs cannot be read: this server does not fetch from the internet")
    full = f"{prompt}\n\nAnswer in about {words or 200} words."
    return target, str(kind), full


def _media_files(base: Path, target: str, kind: str, recursive: bool) -> list[Path]:
    path = inside(base, target)
    if path.is_file():
        return [path] if path.suffix.lower() in MEDIA_SUFFIXES[kind] else []
    if not path.is_dir():
        raise ToolError(f"not found: {target}")
    found = path.rglob("*") if recursive else path.iterdir()
    wanted = MEDIA_SUFFIXES[kind]
    return sorted(p for p in found if p.is_file() and p.suffix.lower() in wanted)


def _data_url(path: Path) -> str:
    if path.stat().st_size > MEDIA_BYTES_LIMIT:
        raise ToolError(f"larger than {MEDIA_BYTES_LIMIT // 2**20} MiB")
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"


async def read_media(base: Path, args: dict[str, Any], describe: Describe) -> Outcome:
    target, kind, prompt = media_request(args)
    files = await to_thread.run_sync(_media_files, base, target, kind, bool(args.get("recursive")))
    if not files:
        raise ToolError(f"no supported {kind} files found at {target}")
    results, cost = [], 0.0
    for path in files[:MEDIA_FILES_LIMIT]:
        entry: dict[str, Any] = {"file_path": str(path.relative_to(base.resolve())),
                                 "media_type": kind, "analysis": ""}  # fmt: skip
        try:
            if kind != "image":
                raise ToolError(f"{kind} cannot be analysed: the configured chat-completions "
                                "provider takes images only")  # fmt: skip
            entry["analysis"], spent = await describe(
                prompt, await to_thread.run_sync(_data_url, path)
            )
            cost += spent
        except (ToolError, OSError) as exc:
            entry["error"] = str(exc)
        results.append(entry)
    failed = sum(1 for r in results if "error" in r)
    summary = f"Analyzed {len(results) - failed} file(s) successfully, {failed} failed."
    text = json.dumps({"results": results, "summary": summary}, indent=2)
    return Outcome(tools.truncate(text), is_error=failed == len(results), cost=cost)


# Show and Search


def _show_problem(base: Path, i: int, item: Any) -> str | None:
    if not isinstance(item, dict):
        return f"Output {i} must be an object"
    kind, title = item.get("type"), item.get("title")
    if not kind:
        return f"Output {i} missing type"
    if not title:
        return f"Output {i} missing title"
    if kind not in SHOW_TYPES:
        return f"Invalid content type '{kind}' for output {i}"
    data = item.get("data")
    if kind in INLINE_TYPES:
        if not data:
            return f"{kind} output {i} missing data field"
        if kind == "json":
            try:
                json.loads(str(data))
            except ValueError as exc:
                return f"JSON output {i} has invalid JSON in data field: {exc}"
        return None
    path = item.get("path")
    if not isinstance(path, str) or not path:
        return f"Output {i} missing path field"
    if not path.startswith(("http://", "https://")) and not inside(base, path).is_file():
        return f"Output {i}: {path} is neither a URL nor a file of this session"
    return None


async def show(base: Path, args: dict[str, Any]) -> Outcome:
    outputs = args.get("outputs")
    if not isinstance(outputs, list) or not outputs:
        raise ToolError("No media outputs provided")
    for i, item in enumerate(outputs):
        problem = await to_thread.run_sync(_show_problem, base, i, item)
        if problem is not None:
            raise ToolError(problem)
    titles = ", ".join("status" if o["type"] == "status" else str(o["title"]) for o in outputs)
    return Outcome(f"Displaying {len(outputs)} item(s): {titles}")


async def search(base: Path, args: dict[str, Any]) -> Outcome:
    query = args.get("query")
    if not isinstance(query, str) or len(query.strip()) < 2:
        raise ToolError("query must be at least 2 characters long")
    if args.get("search_type", "web") not in ("web", "images", "videos"):
        raise ToolError("search_type must be 'web', 'images', or 'videos'")
    raise ToolError("Search is not available on this server: it has no web search provider "
                    "and does not reach the internet. Work with the session's files instead.")  # fmt: skip


HANDLERS: dict[str, tools.Handler] = {**tools.HANDLERS, "Show": show, "Search": search}

S, N, B = tools.S, tools.N, tools.B
STRINGS = {"type": "array", "items": S}
SHOW_ITEM = {"type": "object", "required": ["type", "title"], "properties": {
    "path": S, "data": S, "type": {"type": "string", "enum": list(SHOW_TYPES)}, "title": S,
    "startTime": N, "duration": N}}  # fmt: skip
SPECS: list[dict[str, Any]] = [
    *tools.SPECS,
    tools.function_spec("ReadMedia", "Analyse images (audio and video are not supported here) in the "
              "session directory with a prompt.",
              {"file_path": S, "directory_path": S,
               "media_type": {"type": "string", "enum": ["image", "audio", "video"]},
               "prompt": S, "recursive": B, "word_count": N,
               "audio_mode": {"type": "string", "enum": ["transcript", "description"]},
               "video_mode": {"type": "string", "enum": ["description"]}},
              ["media_type", "prompt"]),
    tools.function_spec("Show", "Display files (session files or URLs) or inline content to the user.",
              {"outputs": {"type": "array", "items": SHOW_ITEM}}, ["outputs"]),
    tools.function_spec("Search", "Search the web (not available on this server).",
              {"query": S, "search_type": {"type": "string", "enum": ["web", "images", "videos"]},
               "allowed_domains": STRINGS, "blocked_domains": STRINGS,
               "safesearch": {"type": "string", "enum": ["strict", "moderate", "off"]},
               "spellcheck": B}, ["query"]),
    tools.function_spec("ExitPlanMode", "In plan mode: present the plan; the mutating tools work after it.",
              {"plan": S}, ["plan"]),
]  # fmt: skip
