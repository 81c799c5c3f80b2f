"""What the machine kind's tests and the ComfyDeploy dialect's tests share: a machine
command that is a tiny HTTP server, waiting, and telling a finished process."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

TINY = f"{sys.executable} {Path(__file__).parent / 'tiny_server.py'} {{port}}"


def wait_for(check: Any, timeout: float = 20.0) -> Any:
    """Poll ``check`` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def gone(pid: int) -> bool:
    """No such process, or a zombie nobody has reaped yet."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"
