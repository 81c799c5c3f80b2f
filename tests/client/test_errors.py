"""Problem+json answers become domain errors; network failures become TransportError."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sessionhub import (
    AlreadyExists,
    Client,
    ClientClosed,
    ClientError,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    PathNotAllowed,
    PreconditionFailed,
    ProtocolError,
    RunActive,
    SeqMismatch,
    SessionHubError,
    TooLarge,
    TransportError,
    Unauthorized,
    Unavailable,
    Unsupported,
)
from tests.client.conftest import BASE_URL, Recorder, problem


@pytest.mark.parametrize(
    ("status", "extra", "expected"),
    [
        (404, {}, NotFound),
        (409, {}, Conflict),
        (409, {"current_seq": 7}, SeqMismatch),
        (409, {"title": "Sequence Mismatch", "current_seq": 7}, SeqMismatch),
        (409, {"title": "Run Already Active"}, RunActive),
        (409, {"type": "https://sessionhub.dev/problems/already-exists"}, AlreadyExists),
        (409, {"type": "urn:sessionhub:run-active"}, RunActive),
        (412, {"current_version": 3}, PreconditionFailed),
        (400, {}, Invalid),
        (400, {"title": "Path Not Allowed"}, PathNotAllowed),
        (422, {"errors": [{"loc": ["body", "kind"]}]}, Invalid),
        (413, {}, TooLarge),
        (401, {}, Unauthorized),
        (403, {}, Forbidden),
        (400, {"title": "Unsupported"}, Unsupported),
        (500, {}, Unavailable),
        (503, {}, Unavailable),
        (429, {}, Unavailable),
    ],
)
def test_problem_maps_to_domain_error(
    client: Client,
    recorder: Recorder,
    status: int,
    extra: dict[str, Any],
    expected: type[SessionHubError],
) -> None:
    recorder.reply(problem(status, "it went wrong", **extra))
    with pytest.raises(SessionHubError) as info:
        client.get_session("s-1")
    assert type(info.value) is expected
    assert info.value.detail == "it went wrong"
    assert str(info.value) == "it went wrong"
    assert info.value.extra["status"] == status
    for key, value in extra.items():
        assert info.value.extra[key] == value


def test_seq_mismatch_carries_current_seq(client: Client, recorder: Recorder) -> None:
    recorder.reply(problem(409, "expected 3", current_seq=5))
    with pytest.raises(SeqMismatch) as info:
        client.append_event("s-1", type="message", expected_seq=3)
    assert info.value.current_seq == 5
    assert isinstance(info.value, Conflict)


def test_precondition_failed_carries_current_version(client: Client, recorder: Recorder) -> None:
    recorder.reply(problem(412, "stale", current_version=9))
    with pytest.raises(PreconditionFailed) as info:
        client.update_session("s-1", title="x", if_version=8)
    assert info.value.current_version == 9


def test_non_json_error_body_becomes_detail(client: Client, recorder: Recorder) -> None:
    recorder.reply(httpx.Response(502, text="Bad Gateway from the proxy"))
    with pytest.raises(Unavailable, match="Bad Gateway from the proxy"):
        client.get_session("s-1")


def test_empty_error_body_uses_reason_phrase(client: Client, recorder: Recorder) -> None:
    recorder.reply(httpx.Response(404))
    with pytest.raises(NotFound, match="Not Found"):
        client.delete_session("s-1")


def test_network_failure_is_transport_error(recorder: Recorder) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    recorder.reply(refuse)
    client = Client(base_url=BASE_URL, transport=httpx.MockTransport(recorder))
    with client, pytest.raises(TransportError, match="cannot reach") as info:
        client.get_session("s-1")
    assert isinstance(info.value, ClientError)
    assert isinstance(info.value.__cause__, httpx.ConnectError)


def test_timeout_is_transport_error(recorder: Recorder) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("too slow", request=request)

    recorder.reply(slow)
    client = Client(base_url=BASE_URL, transport=httpx.MockTransport(recorder))
    with client, pytest.raises(TransportError, match="timed out"):
        client.get_session("s-1")


def test_malformed_success_body_is_protocol_error(client: Client, recorder: Recorder) -> None:
    recorder.reply(httpx.Response(200, json={"id": "s-1"}), httpx.Response(200, text="<html>"))
    with pytest.raises(ProtocolError, match="Session"):
        client.get_session("s-1")
    with pytest.raises(ProtocolError, match="JSON"):
        client.health()


def test_closed_client_refuses_to_send(recorder: Recorder) -> None:
    client = Client(base_url=BASE_URL, transport=httpx.MockTransport(recorder))
    client.close()
    assert client.is_closed
    with pytest.raises(ClientClosed, match="client has been closed"):
        client.get_session("s-1")
    assert recorder.requests == []


def test_client_closes_on_leaving_with_block(recorder: Recorder) -> None:
    with Client(base_url=BASE_URL, transport=httpx.MockTransport(recorder)) as client:
        pass
    with pytest.raises(ClientClosed):
        client.get_session("s-1")
    with pytest.raises(ClientClosed, match="reopen"):
        client.__enter__()


def test_client_cannot_be_entered_twice(recorder: Recorder) -> None:
    client = Client(base_url=BASE_URL, transport=httpx.MockTransport(recorder))
    with client, pytest.raises(ClientError, match="more than once"):
        client.__enter__()
