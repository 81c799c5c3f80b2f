"""Request building and response parsing of the sync client, against canned answers."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from sessionhub import NOT_GIVEN, Client, EventCreate, Role, Session, SessionStatus
from tests.client.conftest import API_KEY, BASE_URL, Recorder, event_json, session_json


def test_headers_carry_bearer_key_and_json_accept(client: Client, recorder: Recorder) -> None:
    recorder.reply(httpx.Response(200, json=session_json()))
    client.get_session("s-1")
    request = recorder.last
    assert request.method == "GET"
    assert str(request.url) == f"{BASE_URL}/v1/sessions/s-1"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"].startswith("sessionhub-python")


def test_no_key_sends_no_authorization(recorder: Recorder) -> None:
    recorder.reply(httpx.Response(200, json={"status": "ok"}))
    with Client(base_url=BASE_URL, transport=httpx.MockTransport(recorder)) as client:
        assert client.health() == {"status": "ok"}
    assert "Authorization" not in recorder.last.headers
    assert recorder.last.url.path == "/healthz"


def test_base_url_with_a_path_prefix_is_kept(recorder: Recorder) -> None:
    recorder.reply(httpx.Response(200, json=session_json()))
    transport = httpx.MockTransport(recorder)
    with Client(base_url="http://proxy.test/hub", transport=transport) as client:
        client.get_session("s-1")
    assert str(recorder.last.url) == "http://proxy.test/hub/v1/sessions/s-1"


def test_ids_are_quoted_as_one_path_segment(client: Client, recorder: Recorder) -> None:
    recorder.reply(httpx.Response(200, json=event_json(1)))
    client.get_event("a/b", "e 1")
    assert recorder.last.url.raw_path == b"/v1/sessions/a%2Fb/events/e%201"


def test_create_session_sends_body_and_idempotency_key(client: Client, recorder: Recorder) -> None:
    recorder.reply(httpx.Response(201, json=session_json("s-9", kind="agent", title="T")))
    session = client.create_session(
        kind="agent", title="T", metadata={"team": "a"}, ttl_seconds=60, idempotency_key="k-1"
    )
    assert isinstance(session, Session)
    assert (session.id, session.kind, session.title) == ("s-9", "agent", "T")
    assert recorder.last.method == "POST"
    assert recorder.last.url.path == "/v1/sessions"
    assert recorder.last.headers["Idempotency-Key"] == "k-1"
    assert recorder.last.headers["Content-Type"] == "application/json"
    assert recorder.json_body() == {
        "kind": "agent",
        "title": "T",
        "metadata": {"team": "a"},
        "ttl_seconds": 60,
    }


def test_create_session_without_idempotency_key(client: Client, recorder: Recorder) -> None:
    recorder.reply(httpx.Response(201, json=session_json()))
    client.create_session()
    assert "Idempotency-Key" not in recorder.last.headers
    assert recorder.json_body() == {"kind": "generic"}


def test_list_sessions_builds_query(client: Client, recorder: Recorder) -> None:
    recorder.reply(httpx.Response(200, json={"items": [session_json()], "next_cursor": "c2"}))
    page = client.list_sessions(
        kind="agent",
        status=SessionStatus.running,
        metadata={"team": "a", "env": "prod"},
        include_children=True,
        created_after=datetime(2025, 1, 1, tzinfo=UTC),
        limit=10,
        cursor="c1",
    )
    assert [s.id for s in page.items] == ["s-1"]
    assert page.next_cursor == "c2"
    assert recorder.last.url.params.multi_items() == [
        ("kind", "agent"),
        ("status", "running"),
        ("metadata", "team:a"),
        ("metadata", "env:prod"),
        ("include_children", "true"),
        ("created_after", "2025-01-01T00:00:00+00:00"),
        ("limit", "10"),
        ("cursor", "c1"),
    ]


def test_iter_sessions_follows_cursors(client: Client, recorder: Recorder) -> None:
    recorder.reply(
        httpx.Response(
            200, json={"items": [session_json("a"), session_json("b")], "next_cursor": "c1"}
        ),
        httpx.Response(200, json={"items": [session_json("c")], "next_cursor": "c2"}),
        httpx.Response(200, json={"items": [], "next_cursor": None}),
    )
    ids = [s.id for s in client.iter_sessions(kind="agent", limit=2)]
    assert ids == ["a", "b", "c"]
    cursors = [r.url.params.get("cursor") for r in recorder.requests]
    assert cursors == [None, "c1", "c2"]
    assert all(r.url.params["kind"] == "agent" for r in recorder.requests)
    assert all(r.url.params["limit"] == "2" for r in recorder.requests)


def test_update_session_sends_only_given_fields_and_if_match(
    client: Client, recorder: Recorder
) -> None:
    recorder.reply(httpx.Response(200, json=session_json(version=4)))
    session = client.update_session("s-1", title=None, metadata={"a": 1}, if_version=3)
    assert session.version == 4
    assert recorder.last.method == "PATCH"
    assert recorder.last.headers["If-Match"] == "3"
    assert recorder.json_body() == {"title": None, "metadata": {"a": 1}}


def test_update_session_without_if_version(client: Client, recorder: Recorder) -> None:
    recorder.reply(httpx.Response(200, json=session_json()))
    client.update_session("s-1", status="ended", name=NOT_GIVEN)
    assert "If-Match" not in recorder.last.headers
    assert recorder.json_body() == {"status": "ended"}


def test_delete_session(client: Client, recorder: Recorder) -> None:
    recorder.reply(httpx.Response(204))
    assert client.delete_session("s-1") is None
    assert (recorder.last.method, recorder.last.url.path) == ("DELETE", "/v1/sessions/s-1")


def test_append_event_body(client: Client, recorder: Recorder) -> None:
    recorder.reply(httpx.Response(201, json=event_json(5, type="tool_call", role=None)))
    event = client.append_event(
        "s-1", type="tool_call", payload={"x": 1}, input_tokens=3, expected_seq=4
    )
    assert (event.seq, event.type, event.role) == (5, "tool_call", None)
    assert recorder.last.url.path == "/v1/sessions/s-1/events"
    assert recorder.json_body() == {
        "type": "tool_call",
        "payload": {"x": 1},
        "expected_seq": 4,
        "input_tokens": 3,
    }


def test_append_events_batch_accepts_models_and_dicts(client: Client, recorder: Recorder) -> None:
    recorder.reply(httpx.Response(201, json={"items": [event_json(1), event_json(2)]}))
    events = client.append_events(
        "s-1",
        [EventCreate(type="message", role=Role.user, payload={"t": "hi"}), {"type": "state"}],
        expected_seq=0,
    )
    assert [e.seq for e in events] == [1, 2]
    assert recorder.last.url.path == "/v1/sessions/s-1/events/batch"
    assert recorder.json_body() == {
        "events": [{"type": "message", "role": "user", "payload": {"t": "hi"}}, {"type": "state"}],
        "expected_seq": 0,
    }


def test_iter_events_pages_by_seq(client: Client, recorder: Recorder) -> None:
    recorder.reply(
        httpx.Response(200, json={"items": [event_json(3), event_json(4)], "next_cursor": "4"}),
        httpx.Response(200, json={"items": [event_json(5)], "next_cursor": None}),
    )
    seqs = [e.seq for e in client.iter_events("s-1", after=2, limit=2)]
    assert seqs == [3, 4, 5]
    assert [r.url.params["after"] for r in recorder.requests] == ["2", "4"]
    assert [r.url.params["limit"] for r in recorder.requests] == ["2", "2"]


def test_list_events_defaults(client: Client, recorder: Recorder) -> None:
    recorder.reply(httpx.Response(200, json={"items": [], "next_cursor": None}))
    page = client.list_events("s-1")
    assert page.items == []
    assert recorder.last.url.params.multi_items() == [("after", "0")]


def test_tail_events(client: Client, recorder: Recorder) -> None:
    recorder.reply(httpx.Response(200, json={"items": [event_json(9), event_json(10)]}))
    events = client.tail_events("s-1", limit=2)
    assert [e.seq for e in events] == [9, 10]
    assert recorder.last.url.path == "/v1/sessions/s-1/events/tail"
    assert recorder.last.url.params["limit"] == "2"


def test_fork_and_rewind(client: Client, recorder: Recorder) -> None:
    recorder.reply(
        httpx.Response(201, json=session_json("s-2", forked_from="s-1", forked_at_event="e-3")),
        httpx.Response(
            200,
            json={"session": session_json(last_seq=3), "deleted_events": 2, "deleted_files": ["x"]},
        ),
    )
    fork = client.fork_session("s-1", at_event_id="e-3", title="copy")
    assert (fork.id, fork.forked_from, fork.forked_at_event) == ("s-2", "s-1", "e-3")
    assert recorder.json_body(0) == {"at_event_id": "e-3", "title": "copy"}
    result = client.rewind_session("s-1", to_event_id="e-3", cleanup_files=True)
    assert (result.deleted_events, result.deleted_files, result.session.last_seq) == (2, ["x"], 3)
    assert recorder.requests[1].url.path == "/v1/sessions/s-1/rewind"
    assert recorder.json_body(1) == {"to_event_id": "e-3", "cleanup_files": True}


def test_fork_and_rewind_by_message_index(client: Client, recorder: Recorder) -> None:
    recorder.reply(
        httpx.Response(201, json=session_json("s-2", forked_from="s-1")),
        httpx.Response(200, json={"session": session_json(), "deleted_events": 1}),
    )
    client.fork_session("s-1", message_index=0)
    assert recorder.json_body(0) == {"message_index": 0}
    client.rewind_session("s-1", message_index=2)
    assert recorder.json_body(1) == {"message_index": 2, "cleanup_files": False}


def test_runs_and_cancel(client: Client, recorder: Recorder) -> None:
    run = {
        "id": "r-1",
        "session_id": "s-1",
        "driver": "agent",
        "status": "running",
        "input": {"prompt": "hi"},
        "started_at": "2025-01-02T03:04:05Z",
    }
    recorder.reply(
        httpx.Response(202, json=run),
        httpx.Response(200, json={"cancelled": True, "run_id": "r-1"}),
    )
    assert client.start_run("s-1", input={"prompt": "hi"}).id == "r-1"
    assert recorder.json_body(0) == {"input": {"prompt": "hi"}}
    result = client.cancel("s-1")
    assert (result.cancelled, result.run_id) == (True, "r-1")
    assert (recorder.last.method, recorder.last.url.path) == ("POST", "/v1/sessions/s-1/cancel")


def test_keys(client: Client, recorder: Recorder) -> None:
    key = {
        "id": "k-1",
        "workspace_id": "w-1",
        "name": "ci",
        "prefix": "sk-ab",
        "created_at": "2025-01-02T03:04:05Z",
    }
    recorder.reply(
        httpx.Response(200, json={"items": [key]}),
        httpx.Response(200, json=[key]),
        httpx.Response(201, json={**key, "admin": True, "key": "sk-secret"}),
        httpx.Response(204),
    )
    assert [k.name for k in client.list_keys()] == ["ci"]
    assert [k.name for k in client.list_keys()] == ["ci"]  # a bare list is accepted too
    created = client.create_key(name="ci", admin=True)
    assert (created.key, created.admin) == ("sk-secret", True)
    assert recorder.json_body(2) == {"name": "ci", "admin": True}
    client.revoke_key("k-1")
    assert (recorder.last.method, recorder.last.url.path) == ("DELETE", "/v1/keys/k-1")


def test_unknown_response_members_are_ignored(client: Client, recorder: Recorder) -> None:
    recorder.reply(httpx.Response(200, json=session_json(added_later=True)))
    assert client.get_session("s-1").id == "s-1"


def test_per_call_timeout_overrides_default(recorder: Recorder) -> None:
    recorder.reply(
        httpx.Response(200, json=session_json()), httpx.Response(200, json=session_json())
    )
    transport = httpx.MockTransport(recorder)
    with Client(base_url=BASE_URL, timeout=7.0, transport=transport) as client:
        client.get_session("s-1")
        client.get_session("s-1", timeout=None)
    assert recorder.requests[0].extensions["timeout"]["read"] == 7.0
    assert recorder.requests[1].extensions["timeout"] == {
        "connect": None,
        "read": None,
        "write": None,
        "pool": None,
    }


@pytest.mark.parametrize("bad", ["", "."])
def test_empty_or_dot_ids_never_resolve_to_another_route(
    client: Client, recorder: Recorder, bad: str
) -> None:
    if bad == "":
        with pytest.raises(ValueError, match="empty"):
            client.get_session(bad)
        return
    recorder.reply(httpx.Response(404, json={"detail": "nope"}))
    with pytest.raises(Exception, match="nope"):
        client.get_session(bad)
    assert recorder.last.url.raw_path == b"/v1/sessions/%2E"
