"""The sandbox a server's settings name."""

from __future__ import annotations

from sessionhub.config import Settings
from sessionhub.execution.bubblewrap import BubblewrapSandbox, bwrap_path
from sessionhub.execution.sandbox import NoSandbox, Sandbox, UnavailableSandbox


def open_sandbox(settings: Settings) -> Sandbox:
    """``auto`` (the default) and ``bubblewrap`` use ``bwrap`` where it is installed;
    without it, running user code is refused with a clear error (the server still
    starts). ``none`` runs user code unsandboxed: single-user setups only."""
    if settings.sandbox == "none":
        return NoSandbox()
    bwrap = bwrap_path()
    if bwrap is None:
        return UnavailableSandbox()
    return BubblewrapSandbox(bwrap, network=settings.sandbox_network)
