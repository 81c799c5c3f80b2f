"""The sandbox a server's settings name."""

from __future__ import annotations

import logging

from sessionhub.config import Settings
from sessionhub.execution.bubblewrap import BubblewrapSandbox, bwrap_path
from sessionhub.execution.limits import Cgroups, Limits
from sessionhub.execution.sandbox import NoSandbox, Sandbox, UnavailableSandbox

MB = 1024 * 1024
log = logging.getLogger(__name__)


def limits_of(settings: Settings) -> Limits:
    return Limits(
        memory_bytes=settings.sandbox_memory_mb * MB,
        processes=settings.sandbox_processes,
        file_bytes=settings.sandbox_disk_mb * MB,
    )


def open_sandbox(settings: Settings) -> Sandbox:
    """``auto`` (the default) and ``bubblewrap`` use ``bwrap`` where it is installed;
    without it, running user code is refused with a clear error (the server still
    starts). ``none`` runs user code unsandboxed: single-user setups only."""
    cgroups = Cgroups.find()
    cgroups.sweep()
    if settings.sandbox == "none":
        log.warning("SESSIONHUB_SANDBOX=none: user code (the agent's Bash, callbacks, "
                    "machines, kernels) runs unsandboxed as this server's user; "
                    "single-user setups only")  # fmt: skip
        return NoSandbox(limits_of(settings), cgroups)
    bwrap = bwrap_path()
    if bwrap is None:
        log.warning("bubblewrap (bwrap) is not installed: requests that run user code "
                    "answer 503 until it is (apt-get install bubblewrap), or set "
                    "SESSIONHUB_SANDBOX=none for a single-user server")  # fmt: skip
        return UnavailableSandbox()
    return BubblewrapSandbox(
        bwrap, network=settings.sandbox_network, limits=limits_of(settings), cgroups=cgroups
    )
