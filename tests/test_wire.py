"""The transport under uvicorn's protocol: a response's head and body in one write."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from sessionhub.testing.fixtures import LiveServer
from sessionhub.wire import HOLD_AT_MOST, OneWriteTransport

pytestmark = pytest.mark.anyio


class Recorded:
    """A transport that records each call that would reach the socket."""

    def __init__(self) -> None:
        self.sent: list[list[bytes]] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.sent.append([bytes(data)])

    def writelines(self, chunks: Any) -> None:
        self.sent.append([bytes(c) for c in chunks])

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def one_write(raw: Recorded) -> OneWriteTransport:
    return OneWriteTransport(raw)  # type: ignore[arg-type]


async def test_head_and_body_go_out_in_one_call() -> None:
    raw = Recorded()
    transport = one_write(raw)
    transport.write(b"HTTP/1.1 201 Created\r\n\r\n")
    assert raw.sent == []
    transport.write(b'{"id":"e1"}')
    assert raw.sent == [[b"HTTP/1.1 201 Created\r\n\r\n", b'{"id":"e1"}']]
    await asyncio.sleep(0)
    assert len(raw.sent) == 1


async def test_only_a_turns_first_write_waits() -> None:
    raw = Recorded()
    transport = one_write(raw)
    chunks = [b"head", b"one", b"two", b"three"]
    for chunk in chunks:  # a stream sending chunk after chunk without yielding
        transport.write(chunk)
    assert raw.sent == [[b"head", b"one"], [b"two"], [b"three"]]
    await asyncio.sleep(0)
    transport.write(b"next turn")
    assert raw.sent[-1] == [b"three"]  # held again: a new turn


async def test_a_lone_write_goes_out_at_the_end_of_the_loop_turn() -> None:
    raw = Recorded()
    transport = one_write(raw)
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n")
    assert raw.sent == []
    await asyncio.sleep(0)
    assert raw.sent == [[b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n"]]


async def test_large_writes_are_not_held_and_close_sends_what_is_held() -> None:
    raw = Recorded()
    transport = one_write(raw)
    big = b"x" * (HOLD_AT_MOST + 1)
    transport.write(big)
    assert raw.sent == [[big]]
    transport.write(b"tail")
    transport.close()
    assert raw.sent[-1] == [b"tail"] and raw.closed
    await asyncio.sleep(0)
    assert len(raw.sent) == 2  # the scheduled flush finds nothing left
    assert transport.get_extra_info("peername") == "info:peername"


async def test_the_served_app_answers_through_it(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        created = await client.post("/v1/sessions", json={"kind": "generic"})
        got = await client.get(f"/v1/sessions/{created.json()['id']}")  # same connection
    assert created.status_code == 201 and got.json()["id"] == created.json()["id"]
