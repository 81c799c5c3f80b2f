"""Each session's isolated directory of files."""

from sessionhub.files.directory import SessionFiles

__all__ = ["SessionFiles"]
