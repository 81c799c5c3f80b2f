"""Every kernel starts in the sandbox: a jupyter_client kernel provisioner.

jupyter_client picks a kernel's provisioner from its kernelspec's
``metadata.kernel_provisioner`` (entry-point group ``jupyter_client.kernel_provisioners``,
where ours is registered as ``sessionhub-sandbox``). `SandboxedKernelManager`, the
kernel driver's manager class, names ours in every kernelspec it starts, so no
installed kernelspec has to change. The provisioner:

- gives each kernel a directory of its own under the kernel runtime root (0700,
  random name): its connection file (the HMAC key) and its ZeroMQ ``ipc`` sockets
  live there, and that directory is the only one besides its session's directory
  that is bound into its sandbox. Other kernels' directories are not visible, so no
  session's code can read another kernel's key. ``ipc`` because a sandbox has its
  own network namespace: TCP on the host's loopback is out of its reach.
- wraps the launch command in ``Sandbox.prepare`` with an environment built from an
  allowlist plus the kernelspec's own ``env`` (never the server's variables).
- asks for interrupts as messages (``interrupt_mode: message``): a SIGINT to the
  launched process would reach bubblewrap, not the kernel inside its pid namespace.

Inside an isolating sandbox a kernel sees its session directory at ``/session``,
whatever its path on the host: a warm kernel is started before it has a session (see
``pool.py``), and the host's layout (data dir, workspace ids) stays out of sight.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning.local_provisioner import LocalProvisioner

from sessionhub.config import Settings
from sessionhub.execution.factory import open_sandbox
from sessionhub.execution.limits import Cgroup, discard
from sessionhub.execution.sandbox import Sandbox, SandboxSpec

PROVISIONER_NAME = "sessionhub-sandbox"
SESSION_MOUNT = Path("/session")
# A unix socket's path holds at most 107 bytes: "<runtime root>/kXXXXXXXX/k-<n>" must fit.
UNIX_PATH_MAX = 107
KERNEL_DIR_AND_SOCKET = len("/kXXXXXXXX/k-99999")


@dataclass(frozen=True)
class KernelSandbox:
    """What the driver gives each kernel launch: the sandbox and the kernel runtime root."""

    sandbox: Sandbox
    runtime: Path

    @classmethod
    def from_settings(cls, settings: Settings) -> KernelSandbox:
        """For a provisioner started outside our driver (a kernelspec naming it)."""
        return cls(open_sandbox(settings), settings.runtime_dir / "kernels")

    def workdir_inside(self, workdir: Path) -> Path:
        """Where a kernel started in ``workdir`` sees it."""
        return SESSION_MOUNT if self.sandbox.isolated else workdir

    def new_kernel_dir(self) -> Path:
        """A fresh directory (0700) for one kernel's connection file and sockets.

        Under the runtime root unless its path is too long for a unix socket (deep
        data dirs); then a private one in the system's temporary directory.
        """
        self.runtime.mkdir(parents=True, exist_ok=True)
        self.runtime.chmod(0o700)
        if len(str(self.runtime.absolute())) + KERNEL_DIR_AND_SOCKET > UNIX_PATH_MAX:
            return Path(tempfile.mkdtemp(prefix="sessionhub-k"))
        return Path(tempfile.mkdtemp(prefix="k", dir=self.runtime.absolute()))


class SandboxedProvisioner(LocalProvisioner):
    """A local kernel launched in the sandbox, talking ZeroMQ over ``ipc`` sockets."""

    kernel_dir: Path | None = None
    setup: KernelSandbox | None = None
    cgroup: Cgroup | None = None  # the running kernel's limits, removed when it ends

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        """Kernel directory, connection file, then the sandboxed launch command.

        ``sandbox`` (a `KernelSandbox`) comes from the driver's ``start_kernel`` call
        and, kept in the manager's launch arguments, again on every restart.
        """
        given = kwargs.pop("sandbox", None)
        self.setup = given or self.setup or KernelSandbox.from_settings(Settings())
        first = self.kernel_dir is None
        if self.kernel_dir is None:
            self.kernel_dir = self.setup.new_kernel_dir()
            self._use_ipc(self.kernel_dir)
        try:
            await self._release_cgroup()  # a restart's previous kernel has ended
            launch = await super().pre_launch(**kwargs)
            return self._sandboxed(launch, self.setup, self.kernel_dir)
        except BaseException:
            if first:  # (a restart's failure leaves the kernel's key to its shutdown)
                self._remove_kernel_dir()
            raise

    def _use_ipc(self, kernel_dir: Path) -> None:
        manager: Any = self.parent
        manager.transport = "ipc"
        manager.cache_ports = False
        manager.ip = str(kernel_dir / "k")
        manager.connection_file = str(kernel_dir / f"kernel-{self.kernel_id}.json")

    def _sandboxed(
        self, launch: dict[str, Any], setup: KernelSandbox, kernel_dir: Path
    ) -> dict[str, Any]:
        workdir = Path(launch["cwd"]) if launch.get("cwd") else scratch(kernel_dir)
        env = self._kernel_env(launch["env"])
        if setup.sandbox.isolated:
            # In its pid namespace the kernel's parent is pid 1 (bubblewrap's init), which
            # ipykernel would take for an orphan's; "1" tells it so (--die-with-parent
            # ends the kernel with the server instead of ipykernel's parent poller).
            env["JPY_PARENT_PID"] = "1"
        spec = SandboxSpec(
            workdir=workdir, writable=(kernel_dir,), env=env,
            workdir_inside=setup.workdir_inside(workdir),
        )  # fmt: skip
        prepared = setup.sandbox.prepare(launch["cmd"], spec)
        self.cgroup = prepared.cgroup
        if setup.sandbox.isolated:
            self.kernel_spec.interrupt_mode = "message"
            launch["independent"] = True  # keeps the server's pid out of the kernel's env
        return {**launch, "cmd": prepared.argv, "env": prepared.env, "cwd": str(prepared.cwd)}

    def _kernel_env(self, prepared: dict[str, str]) -> dict[str, str]:
        """The kernelspec's own variables (substituted by jupyter_client) and the
        Jupyter session name; nothing else of the server's environment."""
        wanted = [*self.kernel_spec.env, "JPY_SESSION_NAME"]
        return {name: prepared[name] for name in wanted if name in prepared}

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart=restart)
        await self._release_cgroup()
        if not restart:
            self._remove_kernel_dir()

    async def _release_cgroup(self) -> None:
        cgroup, self.cgroup = self.cgroup, None
        if cgroup is not None:
            await discard(cgroup)

    def _remove_kernel_dir(self) -> None:
        if self.kernel_dir is not None:
            shutil.rmtree(self.kernel_dir, ignore_errors=True)
            self.kernel_dir = None


def scratch(kernel_dir: Path) -> Path:
    """The working directory of a kernel started without a session."""
    directory = kernel_dir / "work"
    directory.mkdir(exist_ok=True)
    return directory


class SandboxedKernelManager(AsyncKernelManager):
    """jupyter_client's kernel manager, naming our provisioner in every kernelspec."""

    @property
    def kernel_spec(self) -> KernelSpec | None:
        spec: KernelSpec | None = super().kernel_spec
        if spec is not None:
            spec.metadata["kernel_provisioner"] = {"provisioner_name": PROVISIONER_NAME}
        return spec
