"""Wire models of ComfyDeploy's session API (SDK 0.6.3 / backend of January 2025)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class MachineGPU(enum.StrEnum):
    CPU = "CPU"
    T4 = "T4"
    L4 = "L4"
    A10G = "A10G"
    L40S = "L40S"
    A100 = "A100"
    A100_80GB = "A100-80GB"
    H100 = "H100"


class Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CreateSessionBody(Wire):
    machine_id: Annotated[str, Field(min_length=1, max_length=200)]
    gpu: MachineGPU | None = None
    timeout: Annotated[int, Field(ge=1, le=7 * 24 * 60)] | None = Field(
        default=None, description="Minutes; 15 when absent."
    )
    wait_for_server: bool = False


class CreateSessionResponse(Wire):
    session_id: str
    url: str | None = None


class SessionOut(Wire):
    session_id: str
    gpu_event_id: str
    url: str
    gpu: str
    created_at: datetime
    timeout: int
    machine_id: str


class GPUEventModel(Wire):
    id: str
    user_id: str
    org_id: str | None
    machine_id: str | None
    start_time: datetime | None
    end_time: datetime | None
    gpu: MachineGPU | None
    ws_gpu: Literal["4090"] | None = None
    gpu_provider: Literal["runpod", "modal", "comfy-deploy"] = "comfy-deploy"
    created_at: datetime | None = None
    updated_at: datetime | None = None
    session_timeout: int | None = None
    session_id: str | None = None
    modal_function_id: str | None = None
    tunnel_url: str | None = None
    cost_item_title: str | None = None
    cost: float | None = None


class DeleteSessionResponse(Wire):
    success: bool


class IncreaseTimeoutBody(Wire):
    machine_id: Annotated[str, Field(min_length=1)]
    session_id: Annotated[str, Field(min_length=1)]
    timeout: Annotated[int, Field(ge=1, le=7 * 24 * 60)]
    gpu: str


class Message(Wire):
    message: str
