"""The abstract session store: every persistence operation the service needs.

One interface, several backends chosen by URL (``open_store``); one
conformance suite (``sessionhub.testing.conformance``) runs against each.
Methods are keyword-only and return domain models; failures are domain
errors from ``sessionhub.domain.errors``.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sessionhub.domain.errors import Unsupported
from sessionhub.domain.machines import Machine, MachineCreate, SlotClaim
from sessionhub.domain.models import (
    ApiKey,
    Event,
    EventCreate,
    Page,
    Principal,
    Run,
    RunStatus,
    Session,
    SessionCreate,
    SessionQuery,
    SessionUpdate,
    Workspace,
)
from sessionhub.domain.nodes import Lease, Node

Listener = Callable[[str, str, int], None]
"""Called with (topic, session_id, seq) after a committed change."""
PayloadRewrite = Callable[[Sequence[Event]], Mapping[int, dict[str, Any]]]
"""Given a fork's copied events, the payloads (by seq) they get instead."""


@dataclass(frozen=True)
class Created:
    session: Session
    replayed: bool = False


@dataclass(frozen=True)
class Rewound:
    session: Session
    deleted_events: int
    first_deleted_at: datetime | None


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    secret: str


class SessionStore(abc.ABC):
    dialect: str

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect, migrate to head and start the writer; idempotent."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Hear about committed changes from every process; returns unsubscribe."""

    # sessions
    @abc.abstractmethod
    async def create_session(
        self,
        *,
        workspace_id: str,
        spec: SessionCreate,
        idempotency_key: str | None = None,
        if_exists: str = "error",
        session_id: str | None = None,
        forked: tuple[str, str | None] | None = None,
    ) -> Created: ...

    @abc.abstractmethod
    async def get_session(self, *, workspace_id: str, session_id: str) -> Session: ...

    @abc.abstractmethod
    async def list_sessions(self, *, workspace_id: str, query: SessionQuery) -> Page[Session]: ...

    async def count_sessions(self, *, workspace_id: str, query: SessionQuery) -> int:
        """How many sessions match ``query`` (its paging ignored)."""
        raise Unsupported(f"{type(self).__name__} cannot count sessions")

    async def distinct_attribute_values(
        self, *, workspace_id: str, kind: str, key: str, limit: int = 1000
    ) -> list[str]:
        """The distinct strings of an array attribute across a kind's sessions, sorted."""
        raise Unsupported(f"{type(self).__name__} cannot list attribute values")

    async def payload_rollups(
        self, *, session_ids: Sequence[str], event_types: Sequence[str], keys: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """Per session, over its events of those types: ``sum_<key>``, ``min_<key>``, ``max_<key>``."""
        raise Unsupported(f"{type(self).__name__} cannot roll up payloads")

    @abc.abstractmethod
    async def update_session(
        self,
        *,
        workspace_id: str,
        session_id: str,
        patch: SessionUpdate,
        fields: set[str],
        if_version: int | None = None,
    ) -> Session: ...

    @abc.abstractmethod
    async def delete_session(self, *, workspace_id: str, session_id: str) -> list[str]:
        """Delete a session and its descendants; return every deleted id."""

    @abc.abstractmethod
    async def set_attributes(
        self, *, workspace_id: str, session_id: str, attributes: dict[str, Any]
    ) -> Session:
        """Merge driver-owned attributes (top-level keys replaced)."""

    @abc.abstractmethod
    async def change_attributes(
        self,
        *,
        workspace_id: str,
        session_id: str,
        change: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> Session:
        """Merge ``change(current attributes)`` in, atomically (the row is locked meanwhile)."""

    # events
    @abc.abstractmethod
    async def append_events(
        self,
        *,
        workspace_id: str,
        session_id: str,
        events: Sequence[EventCreate],
        expected_seq: int | None = None,
    ) -> list[Event]: ...

    async def user_messages(
        self, *, workspace_id: str, kind: str, limit: int, offset: int = 0
    ) -> list[Event]:
        """User ``message`` events across a kind's top-level sessions, newest first."""
        raise Unsupported(f"{type(self).__name__} cannot list messages across sessions")

    @abc.abstractmethod
    async def list_events(
        self, *, workspace_id: str, session_id: str, after: int = 0, limit: int = 100
    ) -> Page[Event]: ...

    @abc.abstractmethod
    async def tail_events(
        self, *, workspace_id: str, session_id: str, limit: int = 50
    ) -> list[Event]: ...

    @abc.abstractmethod
    async def get_event(self, *, workspace_id: str, session_id: str, event_id: str) -> Event: ...

    async def iter_events(
        self, *, workspace_id: str, session_id: str, after: int = 0, page_size: int = 1000
    ) -> AsyncIterator[Event]:
        """Every event after ``after``, read a page at a time."""
        while True:
            page = await self.list_events(
                workspace_id=workspace_id, session_id=session_id, after=after, limit=page_size
            )
            for event in page.items:
                yield event
            if page.next_cursor is None:
                return
            after = int(page.next_cursor)

    @abc.abstractmethod
    async def fork_session(
        self,
        *,
        workspace_id: str,
        session_id: str,
        at_event_id: str | None,
        spec: SessionCreate,
        rewrite: PayloadRewrite | None = None,
    ) -> Session:
        """A new session with copies of the source's events up to ``at_event_id`` (all
        without it); ``rewrite`` gives, by seq, payloads the copies get instead, within
        the same transaction."""

    @abc.abstractmethod
    async def rewind_session(
        self, *, workspace_id: str, session_id: str, to_event_id: str
    ) -> Rewound: ...

    @abc.abstractmethod
    async def import_events(
        self,
        *,
        workspace_id: str,
        session_id: str,
        events: Sequence[Event],
        keep_ids: bool = False,
    ) -> None:
        """Insert already-numbered events (import); totals are recounted."""

    @abc.abstractmethod
    async def finish_import(
        self, *, workspace_id: str, session_id: str, last_seq: int, created_at: datetime
    ) -> None:
        """Restore the imported session's seq counter and creation time."""

    # runs
    @abc.abstractmethod
    async def start_run(
        self, *, workspace_id: str, session_id: str, driver: str, input: dict[str, Any], owner: str
    ) -> Run: ...

    @abc.abstractmethod
    async def finish_run(
        self, *, run_id: str, status: RunStatus, error: str | None = None
    ) -> Run: ...

    @abc.abstractmethod
    async def active_run(self, *, workspace_id: str, session_id: str) -> Run | None: ...

    @abc.abstractmethod
    async def request_cancel(self, *, session_id: str) -> None:
        """Ask whichever process owns the session's run to cancel it."""

    @abc.abstractmethod
    async def hold_owner_lock(self, owner: str) -> None:
        """Mark this process alive for ``interrupt_orphaned_runs`` in other processes."""

    @abc.abstractmethod
    async def interrupt_orphaned_runs(self, *, owner: str) -> int:
        """Mark runs whose owning process is gone as interrupted."""

    # nodes and leases (sessionhub.core.nodes)
    @abc.abstractmethod
    async def beat_node(self, *, node_id: str, url: str) -> Node:
        """Register the node or record its heartbeat, now."""

    @abc.abstractmethod
    async def remove_node(self, *, node_id: str) -> int:
        """Forget the node and hand back its leases (how many)."""

    @abc.abstractmethod
    async def claim_lease(self, *, resource: str, node_id: str, stale_before: datetime) -> Lease:
        """Take the lease on ``resource`` unless a node that heartbeat at or after
        ``stale_before`` holds it; exactly one of several racing claimants wins."""

    @abc.abstractmethod
    async def release_lease(self, *, resource: str, node_id: str) -> bool:
        """Give the lease back, if this node holds it."""

    @abc.abstractmethod
    async def lease_holders(self, *, resources: list[str]) -> dict[str, Node]:
        """The node holding the lease on each of ``resources`` (live or not) that is held."""

    @abc.abstractmethod
    async def cluster_secret(self) -> str:
        """The credential nodes forward requests with, made on first use."""

    # tenancy
    @abc.abstractmethod
    async def create_workspace(self, *, name: str) -> Workspace: ...

    @abc.abstractmethod
    async def get_workspace(self, *, name: str) -> Workspace | None: ...

    @abc.abstractmethod
    async def create_key(self, *, workspace_id: str, name: str, admin: bool) -> NewKey: ...

    @abc.abstractmethod
    async def list_keys(self, *, workspace_id: str | None) -> list[ApiKey]: ...

    @abc.abstractmethod
    async def revoke_key(self, *, workspace_id: str | None, key_id: str) -> None: ...

    @abc.abstractmethod
    async def resolve_key(self, *, secret: str) -> Principal | None: ...

    @abc.abstractmethod
    async def count_keys(self) -> int: ...

    # machines (compute profiles for ``machine`` sessions)
    @abc.abstractmethod
    async def create_machine(
        self, *, workspace_id: str, spec: MachineCreate, host: bool = False
    ) -> Machine:
        """``host``: registered by the operator on the host, so it may run unsandboxed."""

    @abc.abstractmethod
    async def get_machine(self, *, workspace_id: str, machine: str) -> Machine:
        """By id or by name, within the workspace."""

    @abc.abstractmethod
    async def list_machines(self, *, workspace_id: str | None) -> list[Machine]: ...

    @abc.abstractmethod
    async def delete_machine(self, *, workspace_id: str | None, machine: str) -> None: ...

    @abc.abstractmethod
    async def claim_slot(self, *, workspace_id: str, session_id: str, claim: SlotClaim) -> Session:
        """Take one of ``claim.limit`` slots of ``claim.pool`` for the session, atomically
        (across processes sharing the database too).

        Conflict when the other sessions of its kind that the claim's ``holder`` matches,
        running or with a claim younger than ``hold_seconds``, already fill the pool.
        """

    @abc.abstractmethod
    async def running_sessions(self, *, kind: str) -> list[Session]:
        """Sessions of a kind whose status is running, in every workspace (crash recovery)."""

    # housekeeping
    @abc.abstractmethod
    async def delete_expired(self, *, now: datetime, limit: int = 100) -> list[tuple[str, str]]:
        """Delete sessions past ``expires_at``; return (workspace_id, id) of each."""

    @abc.abstractmethod
    async def ready(self) -> tuple[bool, str]:
        """Reachable and migrated to head? With a reason when not."""

    @abc.abstractmethod
    async def stats(self) -> dict[str, int]:
        """Counts for metrics: sessions, events, active runs."""
