"""Each session's isolated directory of files."""

from sessionhub.files.directory import OpenFile, SessionFiles

__all__ = ["OpenFile", "SessionFiles"]
