"""What the kernel kind's modules share: a kernel's state, an execution, and the view
of the driver that its helpers (the warm pool, the idle culler) work through.

The helpers take ``KernelProcesses`` rather than the driver class, so the driver
can import them without either importing the other.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson
import zmq.asyncio
from jupyter_client.session import Session as ZmqSession

from sessionhub.core.ports import Host
from sessionhub.domain.errors import Invalid
from sessionhub.domain.models import EventCreate, Role, without_nul

CHANNELS = ("shell", "iopub", "stdin", "control")
OUTPUT_TYPES = frozenset({"stream", "execute_result", "display_data", "error"})
UNFINISHED = frozenset({"timeout", "aborted"})  # execution statuses a replay skips
# The owner of pooled kernels: no workspace's id, so no workspace sees them.
POOL_OWNER = "\x00kernel-pool"


class UnknownKernelName(Invalid):
    """The kernelspec does not exist (Jupyter answers 501)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no such kernel named {name!r}", kernel_name=name)
        self.kernel_name = name


@dataclass
class Execution:
    """An execute_request seen on its way to a kernel, and what came back on iopub."""

    msg_id: str
    code: str
    outputs: list[dict[str, Any]] = field(default_factory=list)
    execution_count: int | None = None
    status: str = "ok"
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    record: bool = True
    probe: bool = False  # a kernel_info_request of ours, not user code
    done: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class KernelState:
    id: str
    name: str
    execution_state: str = "starting"
    last_activity: datetime = field(default_factory=lambda: datetime.now(UTC))
    connections: int = 0
    owner: str | None = None
    watched: bool = False  # the iopub watcher has received a message: its subscription is live
    watcher: asyncio.Task[None] | None = None
    pending: dict[str, Execution] = field(default_factory=dict)
    # held while a finished execution is appended: transcripts keep the kernel's order
    # (on PostgreSQL two writes in flight at once may commit in either order)
    recording: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def running_code(self) -> bool:
        return any(not e.probe for e in self.pending.values())

    def model(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "last_activity": iso(self.last_activity),
            "execution_state": self.execution_state, "connections": self.connections,
        }  # fmt: skip


def iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def transcript_event(execution: Execution) -> EventCreate:
    took = datetime.now(UTC) - execution.started
    payload = {
        "code": execution.code, "outputs": execution.outputs,
        "execution_count": execution.execution_count, "status": execution.status,
        "msg_id": execution.msg_id,
    }  # fmt: skip
    if b"\\u0000" in orjson.dumps(payload):
        payload = without_nul(payload)
    return EventCreate(
        type="execution", role=Role.user,
        payload=payload,
        duration_ms=max(0, int(took.total_seconds() * 1000)),
    )  # fmt: skip


class KernelProcesses(Protocol):
    """The kernel processes of this server, as the pool and the culler use them."""

    kernels: dict[str, KernelState]

    @property
    def host(self) -> Host: ...

    def default_name(self) -> str: ...

    def running(self, kernel_id: str) -> bool: ...

    def state(self, kernel_id: str) -> KernelState: ...

    def alive(self, kernel_id: str) -> bool: ...

    def workdir_inside(self, workdir: Path) -> Path: ...

    def held(self, kernel_id: str) -> bool: ...

    def kernel_manager(self, kernel_id: str) -> Any:
        """jupyter_client's manager of that kernel (untyped there)."""

    def session_for(self, kernel_id: str) -> ZmqSession: ...

    def connect(self, kernel_id: str, channel: str, identity: bytes) -> zmq.asyncio.Socket: ...

    async def start(
        self, name: str | None = None, kernel_id: str | None = None, *,
        owner: str | None = None, cwd: Path | None = None,
    ) -> KernelState: ...  # fmt: skip

    async def wait_ready(self, kernel_id: str, *, timeout: float = 30.0) -> None: ...

    async def shutdown(self, kernel_id: str, *, now: bool = False) -> None: ...
