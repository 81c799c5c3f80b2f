"""The attributes of a ``machine`` session: what the client asks for, then the lease's record.

A client creates a machine session with ``machine_id`` (a machine's id or name) and
optionally ``timeout_seconds`` and ``gpu``; the kind fills in the rest as the lease
goes (``machine_ref``, the GPU event, the process, the URL, the deadline and the
cost). Keys the client adds of its own are kept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from sessionhub.domain.attributes.base import KindAttributes

DEFAULT_TIMEOUT = 15 * 60.0
LeaseState = Literal["starting", "ready", "ended"]
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False, strict=True)]


class MachineAttributes(KindAttributes):
    # what the client asks for
    machine_id: str | None = None
    timeout_seconds: Seconds = DEFAULT_TIMEOUT
    gpu: str | None = None
    # the lease's record, kept by the kind
    machine_ref: str | None = Field(default=None, description="The machine's id.")
    gpu_event_id: str | None = None
    state: LeaseState | None = None
    url: str | None = None
    port: int | None = None
    pid: int | None = None
    pgid: int | None = None
    server_pid: int | None = None
    host: str | None = None
    start_time: datetime | None = None
    timeout_end: datetime | None = None
    end_time: datetime | None = None
    end_reason: str | None = None
    exit_code: int | None = None
    price_per_hour: float = 0.0
    cost: float = 0.0
    slot_claimed_at: datetime | None = Field(
        default=None, description="When the lease took a slot of its machine (store-written)."
    )

    @property
    def active(self) -> bool:
        """A lease that has a GPU event and has not ended."""
        return self.gpu_event_id is not None and self.end_time is None
