"""The default sandbox on Linux: bubblewrap (``bwrap``) namespaces around each process.

What a process sees: the system (``/usr`` and a few ``/etc`` files) and the Python
environment read-only; its session directory read-write, and its working
directory; a private ``/tmp``, ``/dev`` and ``/proc`` (its own processes only);
nothing else of the host (no data dir, no database, no other session, no server
file, no ``/etc/shadow``, no ``/root``). New mount, pid, ipc, uts, cgroup and user
namespaces, all capabilities dropped, and a new network namespace unless the
operator opens the network (then the host's network is shared: a trusted setting).
``bwrap`` itself is started with the allowlisted environment, so no process in
the sandbox, its init included, carries the server's.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from sessionhub.execution.limits import Cgroups, Limits
from sessionhub.execution.sandbox import (
    Launch,
    Sandbox,
    SandboxSpec,
    base_environment,
    python_prefixes,
)

SYSTEM = ("/usr",)
MERGED_USR = {"/bin": "usr/bin", "/sbin": "usr/sbin", "/lib": "usr/lib", "/lib64": "usr/lib64"}
ETC = (
    "/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
    "/etc/ssl", "/etc/ca-certificates", "/etc/localtime", "/etc/mime.types",
    "/etc/fonts", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/hosts",
    "/etc/protocols", "/etc/services", "/etc/bash.bashrc", "/etc/inputrc",
)  # fmt: skip


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


class BubblewrapSandbox(Sandbox):
    name = "bubblewrap"
    isolated = True

    def __init__(
        self, bwrap: str, *, network: bool = False, limits: Limits = Limits(),
        cgroups: Cgroups | None = None,
    ) -> None:  # fmt: skip
        super().__init__(limits, cgroups)
        self.bwrap, self.network = bwrap, network
        self.shares_network = network

    def prepare(self, argv: Sequence[str], spec: SandboxSpec) -> Launch:
        args = [self.bwrap, *namespaces(self.network), *system_binds(), *own_binds(spec)]
        args += ["--chdir", str(spec.visible_workdir), "--"]
        env = base_environment(spec)
        return Launch([*args, *argv], env, spec.workdir, self.restraints(spec))


def namespaces(network: bool) -> list[str]:
    args = ["--unshare-all", "--unshare-user", "--uid", "1000", "--gid", "1000"]
    if network:
        args.append("--share-net")
    return [*args, "--die-with-parent", "--new-session", "--cap-drop", "ALL"]


def system_binds() -> list[str]:
    """The read-only system, after the private ``/tmp``, ``/dev`` and ``/proc``: a bind
    under ``/tmp`` (a Python environment there) must come after the tmpfs that would
    otherwise hide it."""
    args = ["--tmpfs", "/tmp", "--dev", "/dev", "--proc", "/proc"]
    for path in SYSTEM:
        args += ["--ro-bind-try", path, path]
    for link, target in MERGED_USR.items():
        if Path(link).is_symlink():
            args += ["--symlink", target, link]
        else:
            args += ["--ro-bind-try", link, link]
    for path in ETC:
        args += ["--ro-bind-try", path, path]
    for prefix in python_prefixes():
        args += ["--ro-bind", str(prefix), str(prefix)]
    return args


def own_binds(spec: SandboxSpec) -> list[str]:
    args = ["--bind", str(spec.workdir), str(spec.visible_workdir)]
    for path in spec.writable:
        args += ["--bind", str(path), str(path)]
    for path in spec.readable:
        args += ["--ro-bind", str(path), str(path)]
    return args
