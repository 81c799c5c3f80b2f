"""Nodes (server processes) and the leases by which one node owns a host-bound resource."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class Node(BaseModel):
    """A server process: its id, the URL other nodes reach it at, its last heartbeat."""

    model_config = ConfigDict(frozen=True)
    id: str
    url: str
    started_at: datetime
    heartbeat_at: datetime


class Lease(BaseModel):
    """Who owns ``resource`` after a claim: ``owner`` is the node holding it now.

    ``taken_over`` is set when the claim moved the lease from a node that had stopped
    heartbeating (the caller must start the resource again).
    """

    model_config = ConfigDict(frozen=True)
    resource: str
    owner: Node
    taken_over: bool = False
