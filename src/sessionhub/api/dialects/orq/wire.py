"""Orq wire models: requests (lenient numbers and datetimes) and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from sessionhub.kinds.trace.rules import Thread, ThreadSpec, iso

ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Count = Annotated[int, Field(ge=0)]  # lax: 3.0 is accepted, 3.5 is not
Amount = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Text = Annotated[str, StringConstraints(max_length=1000)]
Tags = Annotated[list[Annotated[str, StringConstraints(max_length=200)]], Field(max_length=100)]
ThreadKind = Literal[
    "THREAD_KIND_UNSPECIFIED", "THREAD_KIND_CONVERSATION", "THREAD_KIND_CODING_AGENT"
]
OUT_KINDS = {"THREAD_KIND_CONVERSATION", "THREAD_KIND_CODING_AGENT"}


class Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Billing(Wire):
    input_cost: Amount
    output_cost: Amount
    total_cost: Amount


class Usage(Wire):
    prompt_tokens: Count
    completion_tokens: Count
    total_tokens: Count


class ThreadFields(Wire):
    """Every field both generations may set; all optional here, required ones checked per route."""

    external_id: ExternalId | None = None
    duration: Amount | None = None
    contact_ids: Tags | None = None
    billing: Billing | None = None
    usage: Usage | None = None
    traces_count: Count | None = None
    tags: Tags | None = None
    project_id: Text | None = None
    started_at: datetime | None = None
    updated_at: datetime | None = None

    def spec(self) -> ThreadSpec:
        numbers: dict[str, float] = {}
        if self.duration is not None:
            numbers["duration"] = self.duration
        if self.traces_count is not None:
            numbers["traces_count"] = self.traces_count
        if self.billing is not None:
            numbers.update(self.billing.model_dump())
        if self.usage is not None:
            numbers.update({k: float(v) for k, v in self.usage.model_dump().items()})
        lists = {k: v for k in ("tags", "contact_ids") if (v := getattr(self, k)) is not None}
        texts: dict[str, str | None] = {}
        if "project_id" in self.model_fields_set:
            texts["project_id"] = self.project_id
        return ThreadSpec(
            external_id=self.external_id, numbers=numbers, texts=texts, lists=lists,
            started_at=self.started_at, updated_at=self.updated_at,
        )  # fmt: skip


def thread_body(thread: Thread) -> dict[str, Any]:
    """The object both generations return; optional keys left out rather than null."""
    n = thread.numbers
    body: dict[str, Any] = {
        "_id": thread.id,
        "external_id": thread.external_id,
        "duration": n["duration"],
        "contact_ids": thread.contact_ids,
        "billing": {k: n[k] for k in ("input_cost", "output_cost", "total_cost")},
        "usage": {k: round(n[k]) for k in ("prompt_tokens", "completion_tokens", "total_tokens")},
        "traces_count": round(n["traces_count"]),
        "tags": thread.tags,
        "started_at": iso(thread.started_at),
        "updated_at": iso(thread.updated_at),
    }
    if "project_id" in thread.texts:
        body["project_id"] = thread.texts["project_id"]
    return body
