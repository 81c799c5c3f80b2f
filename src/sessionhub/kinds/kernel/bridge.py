"""One client on one kernel: its messages to the kernel's ZMQ channels and back.

The Jupyter dialect's websocket (``api/dialects/jupyter/channels.py``) frames and
unframes; this side routes messages by channel, waits until the client's iopub
subscription is live before anything is sent, counts the kernel's connections,
and tracks each ``execute_request`` the client sends so that its cell lands in
the transcript of every session using the kernel.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import zmq.asyncio

from sessionhub.kinds.kernel.driver import KernelDriver
from sessionhub.kinds.kernel.state import CHANNELS

# what the bridge hands the client: the channel and the message's parts, signature first
Deliver = Callable[[str, list[bytes]], Awaitable[None]]


def parent_id(msg: dict[str, Any]) -> str | None:
    parent: dict[str, Any] = msg.get("parent_header") or {}
    return parent.get("msg_id")


def is_idle_of(msg: dict[str, Any], sent: list[str]) -> bool:
    content: dict[str, Any] = msg.get("content") or {}
    return (
        msg["header"].get("msg_type") == "status"
        and content.get("execution_state") == "idle"
        and parent_id(msg) in sent
    )


class KernelBridge:
    """One client's sockets on one kernel (made by ``KernelSessions.bridge``)."""

    def __init__(self, driver: KernelDriver, kernel_id: str) -> None:
        self.driver, self.kernel_id = driver, kernel_id
        self.state = driver.state(kernel_id)
        self.session = driver.session_for(kernel_id)
        identity = uuid.uuid4().hex.encode()
        self.sockets = {name: driver.connect(kernel_id, name, identity) for name in CHANNELS}

    async def ready(self, *, attempts: int = 60) -> None:
        """Until our iopub subscription is live (ZMQ drops what a new subscriber misses).

        A kernel_info_request on our own shell socket makes the kernel publish a status;
        once the idle status of one of ours arrives on iopub, nothing the client asks for
        next can be lost. The replies to our requests are read off the shell socket so
        the client never sees them.
        """
        shell, iopub = self.sockets["shell"], self.sockets["iopub"]
        sent: list[str] = []
        wait = 0.05  # a ready kernel answers in milliseconds; a starting one takes seconds
        for _ in range(attempts):
            msg = self.session.msg("kernel_info_request")
            sent.append(msg["header"]["msg_id"])
            self.session.send(shell, msg)
            if await self._until(iopub, lambda m: is_idle_of(m, sent), wait):
                break
            wait = min(0.5, wait * 2)
        await self._until(shell, lambda m: parent_id(m) == sent[-1], 5.0)

    async def _until(
        self, socket: zmq.asyncio.Socket, done: Callable[[dict[str, Any]], bool], seconds: float
    ) -> bool:
        """Read ``socket`` until a message satisfies ``done``; False after ``seconds``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while await socket.poll(max(0, int((deadline - loop.time()) * 1000))):
            raw = await socket.recv_multipart()
            _, parts = self.session.feed_identities(raw, copy=True)
            if done(self.session.deserialize(parts, content=True)):
                return True
        return False

    async def serve(self, deliver: Deliver, client: Awaitable[None]) -> None:
        """Pass every channel's messages to ``deliver`` while ``client`` (the reader of
        the client's messages) runs; then let go of the kernel."""
        self.state.connections += 1
        pumps = [asyncio.create_task(self._pump(name, deliver)) for name in self.sockets]
        try:
            await client
        finally:
            self.state.connections = max(0, self.state.connections - 1)
            for task in pumps:
                task.cancel()
            for task in pumps:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self.close()

    def close(self) -> None:
        for socket in self.sockets.values():
            socket.close(linger=0)

    async def _pump(self, channel: str, deliver: Deliver) -> None:
        socket = self.sockets[channel]
        while True:
            raw = await socket.recv_multipart()
            _, parts = self.session.feed_identities(raw, copy=True)
            await deliver(channel, [p if isinstance(p, bytes) else p.bytes for p in parts])

    def parse(self, parts: list[bytes]) -> dict[str, Any]:
        """A delivered message as a dict (checked against its signature)."""
        msg: dict[str, Any] = self.session.deserialize(parts, content=True)
        return msg

    # from the client
    def send(self, channel: str | None, msg: dict[str, Any]) -> None:
        """A message as a dict; one for a channel the kernel lacks is dropped."""
        if channel not in self.sockets:
            return
        if channel == "shell" and msg["header"].get("msg_type") == "execute_request":
            self._track(msg["header"], msg.get("content") or {})
        self.session.send(self.sockets[channel], msg)

    def send_raw(self, channel: str, parts: list[bytes]) -> None:
        """A message as its serialized parts (header, parent, metadata, content, buffers),
        passed on unparsed but for an execute_request's header and content."""
        if channel not in self.sockets or len(parts) < 4:
            return
        if channel == "shell" and b"execute_request" in parts[0]:
            self._track(json.loads(parts[0]), json.loads(parts[3]))
        self.session.send_raw(self.sockets[channel], parts)

    def _track(self, header: dict[str, Any], content: dict[str, Any]) -> None:
        if header.get("msg_type") == "execute_request" and not content.get("silent"):
            self.driver.track(self.kernel_id, str(header["msg_id"]), str(content.get("code", "")))
