"""Processes of machine sessions: spawn in their own process group, probe, kill, find."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from pathlib import Path

import httpx
import psutil
from anyio import to_thread

from sessionhub.domain.errors import Invalid
from sessionhub.domain.machines import Machine, command_args
from sessionhub.execution.sandbox import NoSandbox, Sandbox, SandboxSpec, SandboxUnavailable

MARK = "SESSIONHUB_MACHINE_SESSION"
TERM_GRACE = 3.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def runner(machine: Machine, sandbox: Sandbox) -> Sandbox:
    """Where a machine's command runs: the server's sandbox, unless the operator
    registered it on the host (then unsandboxed, still with its own environment).

    A sandboxed machine serves a port the server must reach: without the host's
    network (``SESSIONHUB_SANDBOX_NETWORK``) it would listen in a network namespace
    of its own that nothing can connect to, so it is refused up front (503)."""
    if machine.host:
        return NoSandbox()
    sandbox.check()
    if sandbox.isolated and not sandbox.shares_network:
        raise SandboxUnavailable(
            f"machine {machine.name!r} runs in the sandbox and serves a port, which needs "
            "the host's network: set SESSIONHUB_SANDBOX_NETWORK=true (trusted setups), or "
            "have the operator register it on the host (sessionhub machines add --host)"
        )
    return sandbox


async def spawn(
    machine: Machine, session_id: str, directory: Path, port: int, sandbox: Sandbox
) -> asyncio.subprocess.Process:
    """Start the command as the leader of a new process group, output to machine.log.

    Its environment is the machine's ``env``, ``PORT`` and the sandbox's minimal
    base, never the server's."""
    args = command_args(machine.command, port=port, session_dir=str(directory))
    env = {**machine.env, "PORT": str(port), MARK: session_id}
    where = runner(machine, sandbox)
    log = await to_thread.run_sync(open, directory / "machine.log", "ab")
    try:
        return await where.spawn(
            args, SandboxSpec(workdir=directory, env=env),
            stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
        )  # fmt: skip
    except OSError as exc:
        raise Invalid(f"cannot start the machine's command {args[0]!r}: {exc.strerror}") from exc
    finally:
        log.close()


async def probe(machine: Machine, port: int, http: httpx.AsyncClient) -> bool:
    """Does the server answer yet? TCP: accepts a connection; HTTP: any status below 500."""
    try:
        if machine.probe == "tcp":
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return True
        path = machine.probe[len("http:") :]
        response = await http.get(f"http://127.0.0.1:{port}{path}", timeout=2.0)
        return response.status_code < 500
    except (OSError, httpx.HTTPError):
        return False


def signal_group(pgid: int, sig: signal.Signals) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


async def stop(proc: asyncio.subprocess.Process) -> int | None:
    """SIGTERM the whole group, SIGKILL what is left after a grace period; reap the leader."""
    signal_group(proc.pid, signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), TERM_GRACE)
    signal_group(proc.pid, signal.SIGKILL)  # children that outlived their leader, too
    return await proc.wait()


def _marked(pid: int, session_id: str) -> bool:
    """Is ``pid`` still the process we started for this session (not a reused pid)?"""
    try:
        environ = psutil.Process(pid).environ()
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # cannot read its environment: trust the recorded pid
    return environ.get(MARK) == session_id


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _members(pgid: int) -> list[int]:
    """The live (not zombie) processes of group ``pgid``; the leader may be gone already."""
    members = []
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                members.append(proc.pid)
        except (ProcessLookupError, PermissionError):
            continue  # gone meanwhile
    return members


def _ours(pgid: int, session_id: str) -> bool:
    """Does a live member of the group carry this session's marker (no reused pgid)?"""
    return any(_marked(pid, session_id) for pid in _members(pgid))


async def reap_orphan(pgid: int, session_id: str) -> bool:
    """Kill an orphaned group left by a crashed server; True if something was killed.

    The whole group: a leader that exited may have left children running in it.
    """
    if not await to_thread.run_sync(_ours, pgid, session_id):
        return False
    signal_group(pgid, signal.SIGTERM)
    for _ in range(int(TERM_GRACE / 0.1)):
        if not await to_thread.run_sync(_members, pgid):
            break
        await asyncio.sleep(0.1)
    signal_group(pgid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pgid, os.WNOHANG)
    return True
