"""What ``sessionhub doctor`` checks, each as a :class:`Check` that says what to fix.

Nothing here changes anything: the database is read (never migrated), the sandbox
runs ``true`` once in a scratch folder, the kernelspecs are only listed.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sessionhub.config import Settings, redact_url
from sessionhub.domain.errors import NotFound, SessionHubError
from sessionhub.execution.bubblewrap import BubblewrapSandbox
from sessionhub.execution.factory import open_sandbox
from sessionhub.execution.sandbox import NoSandbox, SandboxSpec
from sessionhub.files.quota import quota_unavailable
from sessionhub.store import migrations
from sessionhub.store.sql.probe import schema_revision

Status = Literal["ok", "warn", "fail"]
MIN_PYTHON = (3, 11)


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


def check_python(version: tuple[int, int, int] | None = None) -> Check:
    major, minor, micro = version or sys.version_info[:3]
    found = f"Python {major}.{minor}.{micro}"
    if (major, minor) >= MIN_PYTHON:
        return Check("python", "ok", found)
    return Check(
        "python", "fail", f"{found}; sessionhub needs 3.11 or newer",
        "install Python 3.11+ and make the venv again (rm -rf .venv && ./scripts/bootstrap)",
    )  # fmt: skip


async def check_database(settings: Settings) -> Check:
    url = settings.resolved_database_url
    where = redact_url(url)
    head = migrations.head_revision()
    try:
        current = await schema_revision(url)
    except NotFound as exc:
        return Check(
            "database", "warn", f"{exc.detail} ({where})",
            "none needed if this is a new install: `sessionhub serve` (or `sessionhub db "
            "upgrade`) creates it; else point --data-dir / --database-url at the server's",
        )  # fmt: skip
    except SessionHubError as exc:
        return Check("database", "fail", exc.detail, "see the message; then run doctor again")
    if current == head:
        return Check("database", "ok", f"{where} reachable, schema at {head} (current)")
    return Check(
        "database", "fail", f"{where} reachable, schema at {current or 'none'}, expected {head}",
        "run `sessionhub db upgrade` with the same --data-dir/--database-url (serve does it too)",
    )  # fmt: skip


async def check_sandbox(settings: Settings) -> Check:
    sandbox = open_sandbox(settings)
    if isinstance(sandbox, NoSandbox):
        return Check(
            "sandbox", "warn", "SESSIONHUB_SANDBOX=none: user code runs unsandboxed",
            "fine for a single user; for several, install bubblewrap and unset SESSIONHUB_SANDBOX",
        )  # fmt: skip
    if not isinstance(sandbox, BubblewrapSandbox):
        return Check(
            "sandbox", "fail", "bubblewrap (bwrap) is not installed: running code answers 503",
            "apt-get install bubblewrap (or ./scripts/bootstrap as root), or "
            "SESSIONHUB_SANDBOX=none for a single-user server",
        )  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        try:
            done = await sandbox.run(["true"], SandboxSpec(workdir=Path(scratch)), timeout=30)
        except (OSError, SessionHubError) as exc:
            return Check("sandbox", "fail", f"bubblewrap did not start: {exc}", BWRAP_FIX)
    if done.code == 0:
        return Check("sandbox", "ok", f"bubblewrap works ({sandbox.bwrap})")
    said = (done.stderr or b"").decode(errors="replace").strip().splitlines()
    reason = said[-1] if said else f"exit {done.code}"
    return Check("sandbox", "fail", f"bubblewrap is installed but fails: {reason}", BWRAP_FIX)


def check_disk_quota(settings: Settings) -> Check:
    """Can each session directory get its disk quota here (README "Disk quota")?"""
    if settings.session_quota_mb <= 0:
        return Check("disk quota", "ok", "off (SESSIONHUB_SESSION_QUOTA_MB=0)")
    reason = quota_unavailable(settings.files_dir)
    if reason is None:
        return Check("disk quota", "ok",
                     f"{settings.session_quota_mb} MB per session directory (btrfs qgroups)")  # fmt: skip
    return Check(
        "disk quota", "warn", f"session directories get no disk quota: {reason}",
        "put the files root on btrfs with quotas on (README 'Disk quota'); only the "
        "per-file cap holds until then",
    )  # fmt: skip


BWRAP_FIX = (
    "bubblewrap needs unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, "
    "or in a container --privileged / a seccomp profile allowing them); or "
    "SESSIONHUB_SANDBOX=none for a single-user server"
)


def check_kernelspecs(settings: Settings) -> Check:
    from jupyter_client.kernelspec import KernelSpecManager

    found = sorted(KernelSpecManager().find_kernel_specs())
    missing = [name for name in settings.kernel_pool_names if name not in found]
    if not found:
        return Check(
            "kernelspecs", "fail", "no Jupyter kernelspec: kernel sessions cannot start",
            "pip install ipykernel into the server's environment",
        )  # fmt: skip
    if missing:
        return Check(
            "kernelspecs", "fail", f"pooled kernelspecs not installed: {', '.join(missing)}",
            f"install them, or fix SESSIONHUB_KERNEL_POOL_KERNELSPECS (found: {', '.join(found)})",
        )  # fmt: skip
    return Check("kernelspecs", "ok", ", ".join(found))


def check_agent(settings: Settings) -> Check:
    base, model = settings.agent_base_url, settings.agent_model
    if base and model:
        return Check("agent provider", "ok", f"{model} at {base}")
    if base or model:
        lacking = "SESSIONHUB_AGENT_MODEL (--agent-model)" if base else (
            "SESSIONHUB_AGENT_BASE_URL (--agent-base-url)")  # fmt: skip
        return Check(
            "agent provider", "fail", "half configured: agent turns fail", f"set {lacking}"
        )
    return Check(
        "agent provider", "warn", "not configured: agent (Mix) turns end with an error",
        "set SESSIONHUB_AGENT_BASE_URL and SESSIONHUB_AGENT_MODEL (e.g. a local "
        "http://127.0.0.1:11434/v1); not needed for other kinds of session",
    )  # fmt: skip
