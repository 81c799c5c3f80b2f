"""Pure checks on the ids and client paths that name session files; no I/O here."""

from __future__ import annotations

import re

from sessionhub.domain.errors import Invalid, PathNotAllowed

MAX_PATH_BYTES = 1024
MAX_SEGMENT_BYTES = 255
TEMP_PREFIX = ".sessionhub-tmp-"

_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_id(value: str, what: str) -> str:
    """Return ``value`` if it is safe as one directory name (never ``.`` or ``..``)."""
    if not _ID.fullmatch(value):
        raise Invalid(f"{what} is not a valid directory name")
    return value


def check_relative_path(path: str) -> tuple[str, ...]:
    """Return the segments of a safe relative POSIX path, else raise PathNotAllowed."""
    _check_characters(path)
    if path.startswith("/"):
        raise PathNotAllowed("file path must be relative, not absolute")
    parts = tuple(path.split("/"))
    for part in parts:
        _check_segment(part)
    return parts


def is_addressable(path: str) -> bool:
    """Whether a client could name ``path``; listings show only such files."""
    try:
        check_relative_path(path)
    except PathNotAllowed:
        return False
    return True


def _check_characters(path: str) -> None:
    if not path:
        raise PathNotAllowed("file path is empty")
    if "\x00" in path:
        raise PathNotAllowed("file path contains a NUL byte")
    if "\\" in path:
        raise PathNotAllowed("file path contains a backslash; separate directories with '/'")
    if _CONTROL.search(path):
        raise PathNotAllowed("file path contains a control character")
    try:
        size = len(path.encode("utf-8"))
    except UnicodeEncodeError:
        raise PathNotAllowed("file path is not valid UTF-8") from None
    if size > MAX_PATH_BYTES:
        raise PathNotAllowed(f"file path is longer than {MAX_PATH_BYTES} bytes")


def _check_segment(part: str) -> None:
    if part == "":
        raise PathNotAllowed("file path has an empty segment ('//' or a trailing '/')")
    if part in (".", ".."):
        raise PathNotAllowed(f"file path may not contain a '{part}' segment")
    if len(part.encode("utf-8")) > MAX_SEGMENT_BYTES:
        raise PathNotAllowed(f"a file path segment is longer than {MAX_SEGMENT_BYTES} bytes")
    if part.startswith(TEMP_PREFIX):
        raise PathNotAllowed(f"names starting with {TEMP_PREFIX!r} are reserved")
