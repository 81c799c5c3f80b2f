"""The Jupyter dialect's live-server fixtures, for tests of the kind that drive it."""

from __future__ import annotations

from tests.api.dialects.jupyter.conftest import jupyter, servers, sqlite_servers

__all__ = ["jupyter", "servers", "sqlite_servers"]
