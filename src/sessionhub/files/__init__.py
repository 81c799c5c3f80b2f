"""Each session's isolated directory of files."""

from sessionhub.files._fs import open_beneath
from sessionhub.files.directory import OpenFile, SessionFiles

__all__ = ["OpenFile", "SessionFiles", "open_beneath"]
