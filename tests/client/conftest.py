"""Canned-response fixtures: a recording ``httpx.MockTransport`` and JSON factories."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from sessionhub import AsyncClient, Client

BASE_URL = "http://sessionhub.test"
API_KEY = "sk-test-123"

Reply = httpx.Response | Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler: records each request, answers from a queue."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.replies: deque[Reply] = deque()

    def reply(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.replies:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        reply = self.replies.popleft()
        return reply(request) if callable(reply) else reply

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def json_body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(recorder: Recorder) -> Iterator[Client]:
    with Client(base_url=BASE_URL, api_key=API_KEY, transport=httpx.MockTransport(recorder)) as c:
        yield c


@pytest.fixture
def async_client(recorder: Recorder) -> AsyncClient:
    return AsyncClient(base_url=BASE_URL, api_key=API_KEY, transport=httpx.MockTransport(recorder))


def session_json(session_id: str = "s-1", **fields: Any) -> dict[str, Any]:
    return {
        "id": session_id,
        "workspace_id": "w-1",
        "kind": "generic",
        "created_at": "2025-01-02T03:04:05Z",
        "updated_at": "2025-01-02T03:04:05Z",
        **fields,
    }


def event_json(seq: int, session_id: str = "s-1", **fields: Any) -> dict[str, Any]:
    return {
        "id": f"e-{seq}",
        "session_id": session_id,
        "seq": seq,
        "type": "message",
        "role": "user",
        "payload": {"text": f"hello {seq}"},
        "created_at": "2025-01-02T03:04:05Z",
        **fields,
    }


def problem(status: int, detail: str, **extra: Any) -> httpx.Response:
    body = {"type": "about:blank", "title": "Error", "status": status, "detail": detail, **extra}
    return httpx.Response(status, json=body, headers={"Content-Type": "application/problem+json"})
