"""Limits on one sandboxed process tree: memory and process count, file size.

Memory and process count go through a cgroup of their own per process tree
(``memory`` and ``pids`` controllers; cgroup v1 as on these machines, or v2),
created before the launch and removed, with anything still in it, when the tree
ends. The launch joins it through a one-line ``sh`` prefix (`Restraints`) that
writes its own pid into each ``cgroup.procs``, sets the rlimits and execs the rest,
so no child can be forked before the limits apply (moving a pid from the server
after the spawn races with the process's first ``fork``).

Where no cgroup is writable, memory falls back to ``RLIMIT_AS``; process count then has no limit, because
``RLIMIT_NPROC`` counts per real uid and the sandbox's user is the server's
(root-mapped) user outside its namespace. ``RLIMIT_FSIZE`` caps every file a
process writes (a write past it fails with "File too large"); it is a per-file
cap, not a quota on the whole session directory (see README "Sandbox").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "pids")
GROUP_DIR = "sessionhub"
# How long `discard` keeps trying: a killed tree leaves its cgroup only once the
# kernel has torn every process down, which on a loaded 2-core CI machine took
# more than the one second the first version waited (cgroups were left behind).
DISCARD_PATIENCE = 10.0
log = logging.getLogger(__name__)
# joins each cgroup named before ``--`` (then the rlimits go before ``exec``)
JOIN = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'


@dataclass(frozen=True)
class Limits:
    """Per-process-tree limits; ``None`` leaves one unset."""

    memory_bytes: int | None = None
    processes: int | None = None
    file_bytes: int | None = None
    cpu_seconds: int | None = None

    def over(self, defaults: Limits) -> Limits:
        """These limits, each unset one taken from ``defaults``."""
        return Limits(
            memory_bytes=pick(self.memory_bytes, defaults.memory_bytes),
            processes=pick(self.processes, defaults.processes),
            file_bytes=pick(self.file_bytes, defaults.file_bytes),
            cpu_seconds=pick(self.cpu_seconds, defaults.cpu_seconds),
        )


def pick(value: int | None, default: int | None) -> int | None:
    return default if value is None else value


@dataclass(frozen=True)
class Cgroup:
    """One process tree's cgroup: a directory per controller (one in v2)."""

    directories: tuple[Path, ...]
    memory: bool
    pids: bool

    def remove(self) -> bool:
        """Kill what is left in it and remove it; True once every directory is gone."""
        for directory in self.directories:
            kill_members(directory)
            with contextlib.suppress(FileNotFoundError, OSError):
                directory.rmdir()
        return not any(d.exists() for d in self.directories)

    def members(self) -> list[str]:
        """The pids still in it (for the log when it will not go)."""
        found: list[str] = []
        for directory in self.directories:
            with contextlib.suppress(OSError):
                found += (directory / "cgroup.procs").read_text().split()
        return found


async def discard(cgroup: Cgroup, patience: float = DISCARD_PATIENCE) -> bool:
    """Remove ``cgroup`` once what ran in it is gone, retrying with backoff for up
    to ``patience`` seconds; a cgroup that will not go is logged with its pids
    (the next server start's `Cgroups.sweep` removes it)."""
    deadline, delay = time.monotonic() + patience, 0.01
    while not cgroup.remove():
        if time.monotonic() >= deadline:
            log.warning("cgroup %s not removed: pids %s still in it",
                        cgroup.directories[0].name, cgroup.members())  # fmt: skip
            return False
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.25)
    return True


def kill_members(directory: Path) -> None:
    try:
        pids = (directory / "cgroup.procs").read_text().split()
    except OSError:
        return
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


class Cgroups:
    """Where this server may create cgroups: writable ``memory``/``pids`` parents."""

    def __init__(self, parents: dict[str, Path], unified: bool) -> None:
        self.parents, self.unified = parents, unified

    @classmethod
    def find(cls, root: Path = CGROUP_ROOT) -> Cgroups:
        if (root / "cgroup.controllers").exists():
            return cls(v2_parent(root), unified=True)
        own = own_cgroups()
        found = {}
        for controller in CONTROLLERS:
            parent = root / controller / own.get(controller, "/").lstrip("/") / GROUP_DIR
            if writable_parent(parent):
                found[controller] = parent
        return cls(found, unified=False)

    def create(self, limits: Limits) -> Cgroup | None:
        """A fresh cgroup with these limits, or None if none can be made here."""
        wanted = {"memory": limits.memory_bytes, "pids": limits.processes}
        used = {c: p for c, p in self.parents.items() if wanted.get(c) is not None}
        if self.unified and self.parents:
            used = {"unified": self.parents["unified"]}
        if not used:
            return None
        name = f"run-{os.getpid()}-{uuid.uuid4().hex[:16]}"
        directories = []
        try:
            for parent in dict.fromkeys(used.values()):
                (parent / name).mkdir()
                directories.append(parent / name)
            write_limits(directories, limits, self.unified)
        except OSError:
            Cgroup(tuple(directories), False, False).remove()
            return None
        has = set(used) | ({"memory", "pids"} if self.unified else set())
        return Cgroup(tuple(directories), memory="memory" in has, pids="pids" in has)

    def sweep(self) -> None:
        """Remove cgroups a crashed server left behind (killing what runs in them).

        Each cgroup's name carries the pid of the server process that made it; only
        those whose server is gone are swept, so starting one server (a second
        ``--workers`` process, another node, a test's server) never touches another
        live server's sandboxes."""
        for parent in dict.fromkeys(self.parents.values()):
            for child in parent.glob("run-*"):
                if not server_alive(child.name):
                    Cgroup((child,), False, False).remove()


def server_alive(name: str) -> bool:
    """Is the server process named in ``run-<pid>-<id>`` still running?"""
    pid = name.split("-")[1] if name.count("-") >= 2 else ""
    if not (pid.isascii() and pid.isdigit()):
        return False  # an older name without a pid: its server is long gone
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_limits(directories: list[Path], limits: Limits, unified: bool) -> None:
    for directory in directories:
        files = limit_files(limits, unified)
        for filename, value in files.items():
            if (directory / filename).exists():
                (directory / filename).write_text(value)


def limit_files(limits: Limits, unified: bool) -> dict[str, str]:
    """The control files to write, in order (v1 needs the memory limit before memsw)."""
    files: dict[str, str] = {}
    if limits.memory_bytes is not None:
        memory = str(limits.memory_bytes)
        if unified:
            files.update({"memory.max": memory, "memory.swap.max": "0"})
        else:
            files.update({"memory.limit_in_bytes": memory, "memory.memsw.limit_in_bytes": memory})
    if limits.processes is not None:
        files["pids.max"] = str(limits.processes)
    return files


def own_cgroups() -> dict[str, str]:
    """This process's cgroup path per v1 controller, from ``/proc/self/cgroup``."""
    found: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, names, path = line.split(":", 2)
            for name in names.split(","):
                found[name] = path
    return found


def writable_parent(parent: Path) -> bool:
    try:
        parent.mkdir(exist_ok=True)
    except OSError:
        return False
    return os.access(parent, os.W_OK)


def v2_parent(root: Path) -> dict[str, Path]:
    """v2: a ``sessionhub`` group under the root (exempt from the no-internal-process
    rule), with the memory and pids controllers delegated to its children."""
    parent = root / GROUP_DIR
    try:
        parent.mkdir(exist_ok=True)
        for directory in (root, parent):
            (directory / "cgroup.subtree_control").write_text("+memory +pids")
    except OSError:
        return {}
    return {"unified": parent}


# each rlimit a launch may set: the ``ulimit`` flag (POSIX sh; dash and bash agree on
# these units) and its unit in the limit's own (bytes, seconds)
ULIMIT_FLAGS = {
    resource.RLIMIT_FSIZE: ("-f", 512), resource.RLIMIT_AS: ("-v", 1024),
    resource.RLIMIT_CPU: ("-t", 1),
}  # fmt: skip


def rlimits_of(limits: Limits, cgroup: Cgroup | None) -> tuple[tuple[int, int], ...]:
    """What no cgroup covers, as ``(resource, value)``: the file size cap, memory
    without a memory cgroup, CPU seconds."""
    wanted = {
        resource.RLIMIT_FSIZE: limits.file_bytes,
        resource.RLIMIT_AS: None if cgroup and cgroup.memory else limits.memory_bytes,
        resource.RLIMIT_CPU: limits.cpu_seconds,
    }
    return tuple((which, value) for which, value in wanted.items() if value is not None)


@dataclass(frozen=True)
class Restraints:
    """One launch's limits: the cgroup it joins and the rlimits it sets, applied by
    one ``sh`` in front of the launch that joins the cgroup, sets the rlimits with
    its ``ulimit`` builtin (rounded down to the builtin's units) and execs the rest.

    One exec, measured against the alternatives on the 2-core VM (see
    benchmarks/README.md "Sandbox"): the former ``sh`` then ``prlimit`` cost one exec
    more; applying the limits in a ``preexec_fn`` instead (no prefix at all) was
    slower still, since it makes Python fork the whole server (no vfork) and run its
    at-fork handlers in the child, about 4 ms for an empty function."""

    cgroup: Cgroup | None = None
    rlimits: tuple[tuple[int, int], ...] = ()

    def argv(self) -> list[str]:
        """The prefix that applies these limits and execs the rest (none without any)."""
        if self.cgroup is None and not self.rlimits:
            return []
        procs = [str(d / "cgroup.procs") for d in self.cgroup.directories] if self.cgroup else []
        return ["/bin/sh", "-c", self.script(), "sh", *procs, "--"]

    def script(self) -> str:
        ulimits = ""
        for which, value in self.rlimits:
            flag, unit = ULIMIT_FLAGS[which]
            ulimits += f"ulimit {flag} {value // unit} || exit 125; "
        return JOIN.replace("exec", f"{ulimits}exec")
