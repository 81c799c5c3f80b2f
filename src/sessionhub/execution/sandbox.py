"""One interface for running user code: "run this argv for session S with these limits".

A `SandboxSpec` says what one process may see: its session's directory (the only
writable place besides a private ``/tmp``), any extra directories it needs
(a kernel's socket directory), its environment on top of a minimal allowlisted
base, the network, and its limits. A `Sandbox` turns an argv and a spec into a
`Launch` (the argv, environment and working directory to exec), which callers
run with asyncio or hand to ``jupyter_client`` as a kernel's launch command.

Implementations: ``bubblewrap`` (Linux namespaces; the default where ``bwrap``
is installed), ``none`` (an explicit opt-out for single-user setups: the
process runs as the server's user, with the same minimal environment), and
`UnavailableSandbox`, which refuses to run anything with an error naming both
fixes, so a server without ``bwrap`` still starts and serves everything else.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from sessionhub.domain.errors import Unavailable
from sessionhub.execution.limits import (
    DISCARD_PATIENCE,
    Cgroup,
    Cgroups,
    Limits,
    Restraints,
    discard,
    rlimits_of,
)

__all__ = ["Completed", "Launch", "Limits", "NoSandbox", "Sandbox", "SandboxSpec"]

BASE_PATH = "/usr/local/bin:/usr/bin:/bin"


class SandboxUnavailable(Unavailable):
    """User code cannot run here: no sandbox is installed and none was opted out of."""


@dataclass(frozen=True)
class SandboxSpec:
    """What one sandboxed process may see and use."""

    workdir: Path
    writable: tuple[Path, ...] = ()
    readable: tuple[Path, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    # where ``workdir`` appears inside an isolating sandbox (None: at its own path);
    # a warm kernel started before it has a session sees its future directory there
    workdir_inside: Path | None = None

    @property
    def visible_workdir(self) -> Path:
        return self.workdir_inside or self.workdir


@dataclass(frozen=True)
class Launch:
    """What to exec: the sandboxed ``command``, its environment and directory, and the
    ``restraints`` (limits) in front of it; `argv` is the whole."""

    command: list[str]
    env: dict[str, str]
    cwd: Path
    restraints: Restraints = field(default_factory=Restraints)

    @property
    def argv(self) -> list[str]:
        """The whole argv, limits included (an ``sh`` prefix)."""
        return [*self.restraints.argv(), *self.command]

    @property
    def cgroup(self) -> Cgroup | None:
        """Removed (with what is left in it) when the tree ends."""
        return self.restraints.cgroup


@dataclass(frozen=True)
class Completed:
    code: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool


def python_prefixes() -> tuple[Path, ...]:
    """The Python environment user code runs with (this server's venv and its base)."""
    found = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    return tuple(sorted(found))


def base_environment(spec: SandboxSpec) -> dict[str, str]:
    """The allowlisted environment: nothing of the server's own reaches user code."""
    venv_bin = Path(sys.prefix) / "bin"
    env = {
        "PATH": f"{venv_bin}:{BASE_PATH}",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
    }
    return {**env, **spec.env}


class Sandbox(abc.ABC):
    """``limits`` are the server's defaults (a spec's own limits win); ``cgroups``
    where memory and process-count cgroups can be made (none: rlimits only)."""

    name: ClassVar[str]
    isolated: ClassVar[bool]
    shares_network: bool = True  # does code inside reach the host's network (and ports)?

    def __init__(self, limits: Limits = Limits(), cgroups: Cgroups | None = None) -> None:
        self.limits, self.cgroups = limits, cgroups
        # each spawned tree's cgroup, removed by its task once the tree has ended
        self.releases: dict[asyncio.Task[None], Cgroup] = {}

    @abc.abstractmethod
    def prepare(self, argv: Sequence[str], spec: SandboxSpec) -> Launch:
        """The launch of ``argv`` inside the sandbox that ``spec`` describes.

        A launch with a ``cgroup`` owns it: whoever runs it outside `spawn`/`run`
        calls ``launch.cgroup.remove()`` once the process has ended."""

    def check(self) -> None:
        """Raise `SandboxUnavailable` if this sandbox cannot run code at all."""

    def restraints(self, spec: SandboxSpec) -> Restraints:
        """The spec's limits (over the server's): a fresh cgroup where one can be made,
        rlimits for the rest."""
        limits = spec.limits.over(self.limits)
        cgroup = self.cgroups.create(limits) if self.cgroups else None
        return Restraints(cgroup, rlimits_of(limits, cgroup))

    async def spawn(
        self, argv: Sequence[str], spec: SandboxSpec, **popen: object
    ) -> asyncio.subprocess.Process:
        """Start ``argv`` in its own process group; the caller waits for it."""
        launch = self.prepare(argv, spec)
        try:
            proc = await asyncio.create_subprocess_exec(
                *launch.argv, cwd=launch.cwd, env=launch.env, start_new_session=True,
                **popen,  # type: ignore[arg-type]
            )  # fmt: skip
        except BaseException:
            if launch.cgroup:
                launch.cgroup.remove()
            raise
        if launch.cgroup:
            task = asyncio.ensure_future(release(proc, launch.cgroup))
            self.releases[task] = launch.cgroup
            task.add_done_callback(self.releases.pop)
        return proc

    async def close(self) -> None:
        """At shutdown: every tree still running is killed and its cgroup removed (a
        cancelled release task would otherwise leave the cgroup to the next start)."""
        pending = dict(self.releases)
        for cgroup in pending.values():
            cgroup.remove()  # kills what is in it; its release task then finishes
        if pending:
            await asyncio.wait(pending, timeout=DISCARD_PATIENCE + 1)

    async def run(self, argv: Sequence[str], spec: SandboxSpec, *, timeout: float) -> Completed:
        """Run ``argv`` to its end (a tool call); past ``timeout`` its group is killed."""
        proc = await self.spawn(
            argv, spec, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            kill_group(proc.pid)
            out, err = await proc.communicate()
            return Completed(proc.returncode, out, err, timed_out=True)
        finally:
            kill_group(proc.pid)  # what it left running in the background
        return Completed(proc.returncode, out, err, timed_out=False)


async def release(proc: asyncio.subprocess.Process, cgroup: Cgroup) -> None:
    """Once the launched process ends, its cgroup goes (and anything it left running)."""
    try:
        await proc.wait()
    finally:
        await discard(cgroup)


def kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, 9)


class NoSandbox(Sandbox):
    """The opt-out: code runs as the server's user, in its session directory, with the
    minimal environment (still never the server's variables)."""

    name = "none"
    isolated = False

    def prepare(self, argv: Sequence[str], spec: SandboxSpec) -> Launch:
        return Launch(list(argv), base_environment(spec), spec.workdir, self.restraints(spec))


class UnavailableSandbox(Sandbox):
    """No ``bwrap`` and no opt-out: everything but running user code still works."""

    name = "unavailable"
    isolated = True
    shares_network = False

    def prepare(self, argv: Sequence[str], spec: SandboxSpec) -> Launch:
        self.check()
        raise AssertionError("unreachable")

    def check(self) -> None:
        raise SandboxUnavailable(
            "running code needs a sandbox and none is installed: install bubblewrap "
            "(apt-get install bubblewrap), or for a single-user server set "
            "SESSIONHUB_SANDBOX=none"
        )
