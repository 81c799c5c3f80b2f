"""The store conformance suite: one set of tests every `SessionStore` must pass.

Import it into a test module that provides a ``store`` fixture::

    from sessionhub.testing.conformance import *  # noqa: F403
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from sessionhub.domain import errors
from sessionhub.domain.machines import SlotClaim
from sessionhub.domain.models import (
    EventCreate,
    Role,
    RunStatus,
    Session,
    SessionCreate,
    SessionQuery,
    SessionUpdate,
)
from sessionhub.store.base import SessionStore

pytestmark = pytest.mark.anyio


async def workspace(store: SessionStore, name: str = "w") -> str:
    return (await store.create_workspace(name=name)).id


def message(text: str, role: Role = Role.user, **extra: object) -> EventCreate:
    return EventCreate(type="message", role=role, payload={"text": text}, **extra)


async def test_create_and_get_round_trip(store: SessionStore) -> None:
    ws = await workspace(store)
    spec = SessionCreate(title="t", name="n", metadata={"team": "a"}, attributes={"x": [1]})
    created = await store.create_session(workspace_id=ws, spec=spec)
    got = await store.get_session(workspace_id=ws, session_id=created.session.id)
    assert got == created.session
    assert (got.kind, got.title, got.name, got.metadata, got.attributes) == (
        "generic",
        "t",
        "n",
        {"team": "a"},
        {"x": [1]},
    )
    assert got.version == 1 and got.last_seq == 0 and got.totals.events == 0


async def test_foreign_workspace_sees_nothing(store: SessionStore) -> None:
    a, b = await workspace(store, "a"), await workspace(store, "b")
    sid = (await store.create_session(workspace_id=a, spec=SessionCreate())).session.id
    with pytest.raises(errors.NotFound):
        await store.get_session(workspace_id=b, session_id=sid)
    with pytest.raises(errors.NotFound):
        await store.append_events(workspace_id=b, session_id=sid, events=[message("x")])
    assert (await store.list_sessions(workspace_id=b, query=SessionQuery())).items == []


async def test_unique_name_per_workspace_and_kind(store: SessionStore) -> None:
    ws = await workspace(store)
    await store.create_session(workspace_id=ws, spec=SessionCreate(name="same"))
    with pytest.raises(errors.AlreadyExists):
        await store.create_session(workspace_id=ws, spec=SessionCreate(name="same"))
    other = await store.create_session(
        workspace_id=ws, spec=SessionCreate(name="same", kind="other")
    )
    assert other.session.name == "same"


async def test_get_or_create_by_name_is_one_session_under_concurrency(store: SessionStore) -> None:
    ws = await workspace(store)
    results = await asyncio.gather(*[
        store.create_session(workspace_id=ws, spec=SessionCreate(name="once"), if_exists="return")
        for _ in range(20)
    ])  # fmt: skip
    assert len({r.session.id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1


async def test_idempotency_key_replays_and_detects_misuse(store: SessionStore) -> None:
    ws = await workspace(store)
    first = await store.create_session(
        workspace_id=ws, spec=SessionCreate(title="a"), idempotency_key="k1"
    )
    again = await store.create_session(
        workspace_id=ws, spec=SessionCreate(title="a"), idempotency_key="k1"
    )
    assert again.replayed and again.session.id == first.session.id
    with pytest.raises(errors.Conflict):
        await store.create_session(
            workspace_id=ws, spec=SessionCreate(title="b"), idempotency_key="k1"
        )


async def test_append_assigns_increasing_seq_and_keeps_totals(store: SessionStore) -> None:
    ws = await workspace(store)
    sid = (await store.create_session(workspace_id=ws, spec=SessionCreate())).session.id
    batches = await asyncio.gather(*[
        store.append_events(
            workspace_id=ws, session_id=sid,
            events=[message(f"m{i}", input_tokens=2, output_tokens=3, cost=0.5)],
        )
        for i in range(50)
    ])  # fmt: skip
    seqs = sorted(b[0].seq for b in batches)
    assert seqs == list(range(1, 51))
    await store.append_events(
        workspace_id=ws, session_id=sid,
        events=[EventCreate(type="tool_call", role=Role.assistant, duration_ms=7)],
    )  # fmt: skip
    session = await store.get_session(workspace_id=ws, session_id=sid)
    totals = session.totals
    assert session.last_seq == 51
    assert (totals.events, totals.messages, totals.tool_calls) == (51, 50, 1)
    assert (totals.input_tokens, totals.output_tokens, totals.duration_ms) == (100, 150, 7)
    assert totals.cost == pytest.approx(25.0)
    assert totals.by_role == {"user": 50, "assistant": 1}
    assert totals.by_type == {"message": 50, "tool_call": 1}


async def test_expected_seq_mismatch_reports_current(store: SessionStore) -> None:
    ws = await workspace(store)
    sid = (await store.create_session(workspace_id=ws, spec=SessionCreate())).session.id
    await store.append_events(
        workspace_id=ws, session_id=sid, events=[message("a")], expected_seq=0
    )
    with pytest.raises(errors.SeqMismatch) as caught:
        await store.append_events(
            workspace_id=ws, session_id=sid, events=[message("b")], expected_seq=0
        )
    assert caught.value.current_seq == 1
    assert (await store.get_session(workspace_id=ws, session_id=sid)).totals.events == 1


async def test_events_page_forward_and_tail(store: SessionStore) -> None:
    ws = await workspace(store)
    sid = (await store.create_session(workspace_id=ws, spec=SessionCreate())).session.id
    await store.append_events(
        workspace_id=ws, session_id=sid, events=[message(str(i)) for i in range(25)]
    )
    page = await store.list_events(workspace_id=ws, session_id=sid, after=0, limit=10)
    assert [e.seq for e in page.items] == list(range(1, 11)) and page.next_cursor == "10"
    last = await store.list_events(workspace_id=ws, session_id=sid, after=20, limit=10)
    assert [e.seq for e in last.items] == [21, 22, 23, 24, 25] and last.next_cursor is None
    tail = await store.tail_events(workspace_id=ws, session_id=sid, limit=3)
    assert [e.payload["text"] for e in tail] == ["22", "23", "24"]
    one = await store.get_event(workspace_id=ws, session_id=sid, event_id=tail[0].id)
    assert one == tail[0]
    streamed = [
        e.seq async for e in store.iter_events(workspace_id=ws, session_id=sid, page_size=7)
    ]
    assert streamed == list(range(1, 26))


async def test_list_filters_and_cursor_pages(store: SessionStore) -> None:
    ws = await workspace(store)
    ids = []
    for i in range(7):
        spec = SessionCreate(kind="a" if i % 2 else "b", metadata={"n": str(i % 3)})
        ids.append((await store.create_session(workspace_id=ws, spec=spec)).session.id)
    child = SessionCreate(parent_id=ids[0])
    child_id = (await store.create_session(workspace_id=ws, spec=child)).session.id
    seen, cursor = [], None
    while True:
        page = await store.list_sessions(
            workspace_id=ws, query=SessionQuery(limit=3, cursor=cursor)
        )
        seen += [s.id for s in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == list(reversed(ids))
    kinds = await store.list_sessions(workspace_id=ws, query=SessionQuery(kind="a"))
    assert {s.kind for s in kinds.items} == {"a"} and len(kinds.items) == 3
    meta = await store.list_sessions(workspace_id=ws, query=SessionQuery(metadata={"n": "0"}))
    assert len(meta.items) == 3
    children = await store.list_sessions(workspace_id=ws, query=SessionQuery(parent_id=ids[0]))
    assert [s.id for s in children.items] == [child_id]
    every = await store.list_sessions(workspace_id=ws, query=SessionQuery(include_children=True))
    assert len(every.items) == 8
    future = datetime.now(UTC) + timedelta(hours=1)
    none = await store.list_sessions(workspace_id=ws, query=SessionQuery(created_after=future))
    assert none.items == []
    with pytest.raises(errors.Invalid):
        await store.list_sessions(workspace_id=ws, query=SessionQuery(cursor="garbage!"))


async def test_update_with_version_check(store: SessionStore) -> None:
    ws = await workspace(store)
    s = (await store.create_session(workspace_id=ws, spec=SessionCreate(title="a"))).session
    patch = SessionUpdate(title="b", metadata={"k": "v"})
    updated = await store.update_session(
        workspace_id=ws, session_id=s.id, patch=patch, fields={"title", "metadata"},
        if_version=s.version,
    )  # fmt: skip
    assert (updated.title, updated.metadata, updated.version) == ("b", {"k": "v"}, s.version + 1)
    with pytest.raises(errors.PreconditionFailed) as caught:
        await store.update_session(
            workspace_id=ws, session_id=s.id, patch=patch, fields={"title"}, if_version=s.version
        )
    assert caught.value.current_version == updated.version


async def test_delete_cascades_to_children_and_events(store: SessionStore) -> None:
    ws = await workspace(store)
    parent = (await store.create_session(workspace_id=ws, spec=SessionCreate())).session.id
    child = (
        await store.create_session(workspace_id=ws, spec=SessionCreate(parent_id=parent))
    ).session.id
    grandchild = (
        await store.create_session(workspace_id=ws, spec=SessionCreate(parent_id=child))
    ).session.id
    await store.append_events(workspace_id=ws, session_id=child, events=[message("x")])
    deleted = await store.delete_session(workspace_id=ws, session_id=parent)
    assert set(deleted) == {parent, child, grandchild}
    for sid in deleted:
        with pytest.raises(errors.NotFound):
            await store.get_session(workspace_id=ws, session_id=sid)


async def test_fork_copies_events_up_to_point(store: SessionStore) -> None:
    ws = await workspace(store)
    sid = (await store.create_session(workspace_id=ws, spec=SessionCreate(title="src"))).session.id
    events = await store.append_events(
        workspace_id=ws, session_id=sid, events=[message(str(i), cost=1.0) for i in range(5)]
    )
    fork = await store.fork_session(
        workspace_id=ws, session_id=sid, at_event_id=events[2].id, spec=SessionCreate(title="f")
    )
    assert (fork.forked_from, fork.forked_at_event) == (sid, events[2].id)
    copied = (await store.list_events(workspace_id=ws, session_id=fork.id)).items
    assert [e.payload for e in copied] == [e.payload for e in events[:3]]
    assert [e.seq for e in copied] == [1, 2, 3]
    assert not {e.id for e in copied} & {e.id for e in events}
    assert fork.totals.events == 3 and fork.totals.cost == pytest.approx(3.0)
    assert fork.last_seq == 3
    whole = await store.fork_session(
        workspace_id=ws, session_id=sid, at_event_id=None, spec=SessionCreate()
    )
    assert whole.totals.events == 5
    with pytest.raises(errors.NotFound):
        await store.fork_session(
            workspace_id=ws, session_id=sid, at_event_id="nope", spec=SessionCreate()
        )


async def test_rewind_deletes_later_events_and_never_reuses_seq(store: SessionStore) -> None:
    ws = await workspace(store)
    sid = (await store.create_session(workspace_id=ws, spec=SessionCreate())).session.id
    events = await store.append_events(
        workspace_id=ws, session_id=sid, events=[message(str(i), input_tokens=1) for i in range(5)]
    )
    rewound = await store.rewind_session(workspace_id=ws, session_id=sid, to_event_id=events[1].id)
    assert rewound.deleted_events == 3
    assert rewound.first_deleted_at == events[2].created_at
    assert rewound.session.totals.events == 2 and rewound.session.totals.input_tokens == 2
    assert rewound.session.last_seq == 5
    added = await store.append_events(workspace_id=ws, session_id=sid, events=[message("new")])
    assert added[0].seq == 6
    with pytest.raises(errors.NotFound):
        await store.rewind_session(workspace_id=ws, session_id=sid, to_event_id=events[3].id)


async def test_single_active_run_and_finish(store: SessionStore) -> None:
    ws = await workspace(store)
    sid = (await store.create_session(workspace_id=ws, spec=SessionCreate())).session.id
    run = await store.start_run(workspace_id=ws, session_id=sid, driver="d", input={}, owner="o")
    assert (await store.get_session(workspace_id=ws, session_id=sid)).status == "running"
    with pytest.raises(errors.RunActive):
        await store.start_run(workspace_id=ws, session_id=sid, driver="d", input={}, owner="o")
    done = await store.finish_run(run_id=run.id, status=RunStatus.cancelled)
    assert done.status == RunStatus.cancelled and done.ended_at is not None
    assert await store.active_run(workspace_id=ws, session_id=sid) is None
    again = await store.start_run(workspace_id=ws, session_id=sid, driver="d", input={}, owner="o")
    assert again.id != run.id


async def test_orphaned_runs_of_dead_owners_are_interrupted(store: SessionStore) -> None:
    ws = await workspace(store)
    sid = (await store.create_session(workspace_id=ws, spec=SessionCreate())).session.id
    await store.start_run(workspace_id=ws, session_id=sid, driver="d", input={}, owner="dead")
    assert await store.interrupt_orphaned_runs(owner="me") == 1
    assert await store.active_run(workspace_id=ws, session_id=sid) is None


async def test_api_keys_hashed_resolved_and_revoked(store: SessionStore) -> None:
    ws = await workspace(store)
    new = await store.create_key(workspace_id=ws, name="k", admin=False)
    principal = await store.resolve_key(secret=new.secret)
    assert principal is not None and principal.workspace_id == ws and not principal.admin
    listed = await store.list_keys(workspace_id=ws)
    assert [k.id for k in listed] == [new.key.id]
    assert new.secret not in listed[0].model_dump_json()
    await store.revoke_key(workspace_id=ws, key_id=new.key.id)
    assert await store.resolve_key(secret=new.secret) is None
    with pytest.raises(errors.NotFound):
        await store.revoke_key(workspace_id=ws, key_id=new.key.id)


async def test_expired_sessions_are_deleted(store: SessionStore) -> None:
    ws = await workspace(store)
    short = (await store.create_session(workspace_id=ws, spec=SessionCreate(ttl_seconds=1))).session
    keep = (await store.create_session(workspace_id=ws, spec=SessionCreate())).session
    assert short.expires_at is not None
    gone = await store.delete_expired(now=short.expires_at + timedelta(seconds=1))
    assert gone == [(ws, short.id)]
    assert (await store.get_session(workspace_id=ws, session_id=keep.id)).id == keep.id


async def test_listeners_hear_committed_appends(store: SessionStore) -> None:
    ws = await workspace(store)
    sid = (await store.create_session(workspace_id=ws, spec=SessionCreate())).session.id
    heard: list[tuple[str, str, int]] = []
    unsubscribe = store.subscribe(lambda *args: heard.append(args))
    await store.append_events(workspace_id=ws, session_id=sid, events=[message("a"), message("b")])
    unsubscribe()
    assert ("events", sid, 2) in heard


async def test_ready_reports_schema_at_head(store: SessionStore) -> None:
    assert await store.ready() == (True, "ok")


async def test_rewind_totals_match_a_recount(store: SessionStore) -> None:
    ws = await workspace(store)
    sid = (await store.create_session(workspace_id=ws, spec=SessionCreate())).session.id
    mixed = [
        message("a", input_tokens=3, cost=0.25),
        EventCreate(type="tool_call", role=Role.assistant, output_tokens=5, duration_ms=9),
        EventCreate(type="tool_result", role=Role.tool, cost=1.5),
        message("b", role=Role.assistant, output_tokens=7),
        EventCreate(type="note"),
    ]
    events = await store.append_events(workspace_id=ws, session_id=sid, events=mixed)
    rewound = await store.rewind_session(workspace_id=ws, session_id=sid, to_event_id=events[1].id)
    fork = await store.fork_session(
        workspace_id=ws, session_id=sid, at_event_id=None, spec=SessionCreate()
    )
    assert rewound.session.totals == fork.totals
    totals = rewound.session.totals
    assert totals.by_type == {"message": 1, "tool_call": 1}
    assert totals.by_role == {"user": 1, "assistant": 1}
    assert (totals.input_tokens, totals.output_tokens, totals.duration_ms) == (3, 5, 9)
    assert totals.cost == pytest.approx(0.25)


async def test_concurrent_appends_over_many_sessions(store: SessionStore) -> None:
    ws, other = await workspace(store, "a"), await workspace(store, "b")
    ids = [
        (await store.create_session(workspace_id=ws, spec=SessionCreate())).session.id
        for _ in range(10)
    ]
    foreign = (await store.create_session(workspace_id=other, spec=SessionCreate())).session.id

    async def one(sid: str, i: int) -> object:
        try:
            return await store.append_events(
                workspace_id=ws, session_id=sid, events=[message(str(i))]
            )
        except errors.NotFound as exc:
            return exc

    results = await asyncio.gather(*[
        one(sid, i) for i in range(5) for sid in [*ids, foreign, "missing"]
    ])  # fmt: skip
    assert sum(isinstance(r, errors.NotFound) for r in results) == 10
    for sid in ids:
        session = await store.get_session(workspace_id=ws, session_id=sid)
        assert (session.last_seq, session.totals.events) == (5, 5)
    assert (await store.get_session(workspace_id=other, session_id=foreign)).last_seq == 0


async def test_concurrent_mixed_batches_keep_seq_and_totals_exact(store: SessionStore) -> None:
    """Many multi-event batches at once: per session, seqs are 1..n in each batch's order
    and the totals equal a recount of the stored events."""
    ws = await workspace(store)
    ids = [(await store.create_session(workspace_id=ws, spec=SessionCreate())).session.id
           for _ in range(3)]  # fmt: skip
    kinds = [("message", Role.user), ("message", Role.assistant), ("tool_call", None),
             ("note", Role.system)]  # fmt: skip

    def batch(i: int) -> list[EventCreate]:
        return [
            EventCreate(type=kinds[(i + k) % 4][0], role=kinds[(i + k) % 4][1],
                        payload={"i": i, "k": k}, input_tokens=i, output_tokens=k,
                        cost=0.25, duration_ms=k)
            for k in range(1 + i % 3)
        ]  # fmt: skip

    appended = await asyncio.gather(*[
        store.append_events(workspace_id=ws, session_id=ids[i % 3], events=batch(i))
        for i in range(60)
    ])  # fmt: skip
    for got in appended:
        assert [e.seq for e in got] == list(range(got[0].seq, got[0].seq + len(got)))
    for sid in ids:
        events = [e async for e in store.iter_events(workspace_id=ws, session_id=sid)]
        session = await store.get_session(workspace_id=ws, session_id=sid)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert session.last_seq == len(events) == session.totals.events
        by_type: dict[str, int] = {}
        by_role: dict[str, int] = {}
        for e in events:
            by_type[e.type] = by_type.get(e.type, 0) + 1
            if e.role is not None:
                by_role[e.role.value] = by_role.get(e.role.value, 0) + 1
        totals = session.totals
        assert (totals.by_type, totals.by_role) == (by_type, by_role)
        assert totals.tool_calls == by_type.get("tool_call", 0)
        assert totals.messages == by_type.get("message", 0)
        assert totals.input_tokens == sum(e.input_tokens for e in events)
        assert totals.output_tokens == sum(e.output_tokens for e in events)
        assert totals.duration_ms == sum(e.duration_ms for e in events)
        assert totals.cost == pytest.approx(0.25 * len(events))


async def test_machines_are_per_workspace_by_id_or_name(store: SessionStore) -> None:
    from sessionhub.domain.machines import MachineCreate

    ws, other = await workspace(store), await workspace(store, "other")
    spec = MachineCreate(
        name="gpu-a", command="server --port {port}", env={"A": "1"}, gpu="A10G",
        price_per_hour=1.5, max_sessions=2, probe="http:/health", startup_timeout=5,
    )  # fmt: skip
    made = await store.create_machine(workspace_id=ws, spec=spec)
    assert made.model_dump(exclude={"id", "workspace_id", "created_at", "host"}) == (
        spec.model_dump()
    )
    assert made.host is False  # only the operator's CLI registers host machines
    assert await store.get_machine(workspace_id=ws, machine=made.id) == made
    assert await store.get_machine(workspace_id=ws, machine="gpu-a") == made
    with pytest.raises(errors.NotFound):
        await store.get_machine(workspace_id=other, machine=made.id)
    with pytest.raises(errors.AlreadyExists):
        await store.create_machine(workspace_id=ws, spec=spec)
    host = await store.create_machine(workspace_id=other, spec=spec, host=True)
    assert (await store.get_machine(workspace_id=other, machine=host.id)).host is True
    assert [m.id for m in await store.list_machines(workspace_id=ws)] == [made.id]
    assert len(await store.list_machines(workspace_id=None)) == 2
    with pytest.raises(errors.NotFound):
        await store.delete_machine(workspace_id=other, machine=made.id)
    await store.delete_machine(workspace_id=ws, machine="gpu-a")
    assert await store.list_machines(workspace_id=ws) == []


async def test_running_sessions_of_a_kind_across_workspaces(store: SessionStore) -> None:
    ws, other = await workspace(store), await workspace(store, "other")
    ids = []
    for w in (ws, other, ws):
        made = await store.create_session(workspace_id=w, spec=SessionCreate(kind="machine"))
        ids.append(made.session.id)
    await store.create_session(workspace_id=ws, spec=SessionCreate(kind="generic"))
    for w, sid in ((ws, ids[0]), (other, ids[1])):
        patch = SessionUpdate(status="running")
        await store.update_session(workspace_id=w, session_id=sid, patch=patch, fields={"status"})
    running = await store.running_sessions(kind="machine")
    assert [s.id for s in running] == ids[:2]


async def test_change_attributes_is_atomic(store: SessionStore) -> None:
    ws, other = await workspace(store), await workspace(store, "other")
    spec = SessionCreate(attributes={"n": 0, "keep": "x"})
    sid = (await store.create_session(workspace_id=ws, spec=spec)).session.id

    def bump(attrs: dict[str, object]) -> dict[str, object]:
        return {"n": int(str(attrs["n"])) + 1}

    await asyncio.gather(
        *(store.change_attributes(workspace_id=ws, session_id=sid, change=bump) for _ in range(20))
    )
    got = await store.get_session(workspace_id=ws, session_id=sid)
    assert got.attributes == {"n": 20, "keep": "x"}

    def refuse(attrs: dict[str, object]) -> dict[str, object]:
        raise errors.Conflict("no")

    with pytest.raises(errors.Conflict):
        await store.change_attributes(workspace_id=ws, session_id=sid, change=refuse)
    with pytest.raises(errors.NotFound):
        await store.change_attributes(workspace_id=other, session_id=sid, change=bump)
    assert (await store.get_session(workspace_id=ws, session_id=sid)).attributes["n"] == 20


def slot_claim(pool: str, limit: int, hold: float = 30.0) -> SlotClaim:
    """A claim as a kind would make it: its sessions of ``pool`` that have not ended."""
    return SlotClaim(
        pool=pool, limit=limit, holder={"pool": pool, "ended": None}, claimed_key="claimed",
        hold_seconds=hold, label=f"pool {pool!r}",
    )  # fmt: skip


async def test_slots_are_claimed_up_to_the_limit(store: SessionStore) -> None:
    ws = await workspace(store)
    sids = []
    for pool in ("p", "p", "p", "p", "other"):
        spec = SessionCreate(kind="machine", attributes={"pool": pool})
        sids.append((await store.create_session(workspace_id=ws, spec=spec)).session.id)

    async def claim(sid: str, hold: float = 30.0) -> Session:
        return await store.claim_slot(
            workspace_id=ws, session_id=sid, claim=slot_claim("p", 2, hold)
        )

    results = await asyncio.gather(*(claim(s) for s in sids[:3]), return_exceptions=True)
    conflicts = [r for r in results if isinstance(r, errors.Conflict)]
    assert len(conflicts) == 1 and conflicts[0].detail == (
        "pool 'p' is at its limit of 2 concurrent session(s)"
    )
    won = [r for r in results if isinstance(r, Session)]
    assert all(isinstance(r.attributes["claimed"], str) for r in won)
    refused = [s for s, r in zip(sids, results, strict=False) if isinstance(r, errors.Conflict)]
    winner = won[0].id
    await store.set_attributes(workspace_id=ws, session_id=winner, attributes={"ended": 1})
    await claim(sids[3])  # a session the holder no longer matches gave its slot back
    with pytest.raises(errors.Conflict):
        await claim(refused[0])
    await claim(refused[0], hold=0.0)  # claims older than the hold count no more
    other = slot_claim("other", 1)
    await store.claim_slot(workspace_id=ws, session_id=sids[4], claim=other)  # its own pool
    with pytest.raises(errors.NotFound):
        await store.claim_slot(workspace_id=ws, session_id="nope", claim=other)


async def test_a_running_holder_keeps_its_slot(store: SessionStore) -> None:
    ws, elsewhere = await workspace(store), await workspace(store, "elsewhere")
    spec = SessionCreate(kind="machine", attributes={"pool": "p"})
    running = (await store.create_session(workspace_id=ws, spec=spec)).session.id
    waiting = (await store.create_session(workspace_id=ws, spec=spec)).session.id
    stranger = (await store.create_session(workspace_id=elsewhere, spec=spec)).session.id
    await store.claim_slot(workspace_id=ws, session_id=running, claim=slot_claim("p", 1, 0.0))
    await store.start_run(workspace_id=ws, session_id=running, driver="d", input={}, owner="o")
    with pytest.raises(errors.Conflict):  # running counts, however old its claim
        await store.claim_slot(workspace_id=ws, session_id=waiting, claim=slot_claim("p", 1, 0.0))
    # another workspace's pool of the same name is its own
    await store.claim_slot(workspace_id=elsewhere, session_id=stranger, claim=slot_claim("p", 1))


async def test_user_messages_across_a_kinds_top_level_sessions(store: SessionStore) -> None:
    ws, elsewhere = await workspace(store), await workspace(store, "elsewhere")

    async def session(workspace_id: str, kind: str = "agent", parent: str | None = None) -> str:
        spec = SessionCreate(kind=kind, parent_id=parent)
        return (await store.create_session(workspace_id=workspace_id, spec=spec)).session.id

    a, b = await session(ws), await session(ws)
    others = [await session(ws, parent=a), await session(ws, "generic"), await session(elsewhere)]
    for sid, text in [(a, "a1"), (b, "b1"), *((o, "not me") for o in others), (a, "a2")]:
        events = [message(text), message(f"reply to {text}", Role.assistant)]
        await store.append_events(workspace_id=ws if sid != others[2] else elsewhere,
                                  session_id=sid, events=events)  # fmt: skip
    found = await store.user_messages(workspace_id=ws, kind="agent", limit=10)
    assert [(e.session_id, e.payload["text"]) for e in found] == [(a, "a2"), (b, "b1"), (a, "a1")]
    page = await store.user_messages(workspace_id=ws, kind="agent", limit=1, offset=1)
    assert [e.payload["text"] for e in page] == ["b1"]
