"""The kernel websocket ``/api/kernels/{id}/channels``: frames ⇄ the kernel's ZMQ channels.

Two framings, as Jupyter Server speaks them: the ``v1.kernel.websocket.jupyter.org``
subprotocol (binary: an offset table, the channel name, then the raw ZMQ message
parts, passed through unparsed) and the legacy one (a JSON text frame with a
``channel`` key, or a binary frame carrying buffers). An ``execute_request`` on the
shell channel is tracked so the execution lands in the session's transcript.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import struct
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import zmq.asyncio
from starlette.websockets import WebSocket, WebSocketDisconnect

from sessionhub.api.deps import bearer_secret
from sessionhub.core.hub import Hub
from sessionhub.domain.errors import NotFound, Unavailable
from sessionhub.kinds.kernel.driver import CHANNELS, KernelDriver
from sessionhub.kinds.kernel.rules import KernelSessions

log = logging.getLogger(__name__)
V1 = "v1.kernel.websocket.jupyter.org"


def pack_v1(channel: str, parts: list[bytes]) -> bytes:
    name = channel.encode()
    offsets = [8 * (len(parts) + 3)]
    offsets.append(offsets[0] + len(name))
    for part in parts:
        offsets.append(offsets[-1] + len(part))
    table = b"".join(n.to_bytes(8, "little") for n in [len(offsets), *offsets])
    return table + name + b"".join(parts)


def unpack_v1(frame: bytes) -> tuple[str, list[bytes]]:
    count = int.from_bytes(frame[:8], "little")
    if count < 2 or len(frame) < 8 * (count + 1):
        raise ValueError("bad v1 frame")
    offsets = [int.from_bytes(frame[8 * (i + 1) : 8 * (i + 2)], "little") for i in range(count)]
    channel = frame[offsets[0] : offsets[1]].decode()
    parts = [frame[offsets[i] : offsets[i + 1]] for i in range(1, count - 1)]
    return channel, parts


def pack_legacy_binary(msg: dict[str, Any], buffers: list[bytes]) -> bytes:
    head = json.dumps(msg, default=_json_default).encode()
    pieces = [head, *buffers]
    offsets = [4 * (len(pieces) + 1)]
    for piece in pieces[:-1]:
        offsets.append(offsets[-1] + len(piece))
    return struct.pack("!" + "I" * (len(pieces) + 1), len(pieces), *offsets) + b"".join(pieces)


def unpack_legacy_binary(frame: bytes) -> dict[str, Any]:
    count = struct.unpack("!i", frame[:4])[0]
    offsets = [*struct.unpack("!" + "I" * count, frame[4 : 4 * (count + 1)]), None]
    pieces = [frame[a:b] for a, b in itertools.pairwise(offsets)]
    msg: dict[str, Any] = json.loads(pieces[0])
    msg["buffers"] = pieces[1:]
    return msg


def _parent_id(msg: dict[str, Any]) -> str | None:
    parent: dict[str, Any] = msg.get("parent_header") or {}
    return parent.get("msg_id")


def _is_idle_of(msg: dict[str, Any], sent: list[str]) -> bool:
    content: dict[str, Any] = msg.get("content") or {}
    return (
        msg["header"].get("msg_type") == "status"
        and content.get("execution_state") == "idle"
        and _parent_id(msg) in sent
    )


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, bytes | memoryview):
        return ""
    raise TypeError(f"not JSON: {type(value).__name__}")


async def ws_workspace(ws: WebSocket, hub: Hub) -> str | None:
    if hub.settings.no_auth:
        return hub.default_workspace_id
    secret = bearer_secret(ws)  # type: ignore[arg-type]
    principal = await hub.principal_for(secret) if secret else None
    return principal.workspace_id if principal else None


async def channels(ws: WebSocket, kernel_id: str) -> None:
    hub: Hub = ws.app.state.hub
    workspace_id = await ws_workspace(ws, hub)
    if workspace_id is None:
        await ws.close(code=1008)
        return
    sessions = KernelSessions.of(hub.service)
    try:
        await sessions.find_kernel(workspace_id, kernel_id, revive=True)
        await sessions.driver.until_watched(kernel_id)
    except NotFound:
        await ws.close(code=1008)
        return
    except Unavailable:
        await ws.close(code=1011)
        return
    v1 = V1 in ws.scope.get("subprotocols", [])
    bridge = Bridge(sessions.driver, kernel_id, ws, v1=v1)
    await bridge.run()


class Bridge:
    """One websocket client on one kernel."""

    def __init__(self, driver: KernelDriver, kernel_id: str, ws: WebSocket, *, v1: bool) -> None:
        self.driver, self.kernel_id, self.ws, self.v1 = driver, kernel_id, ws, v1
        self.session = driver.session_for(kernel_id)
        identity = uuid.uuid4().hex.encode()
        self.sockets = {name: driver.connect(kernel_id, name, identity) for name in CHANNELS}

    async def run(self) -> None:
        state = self.driver.state(self.kernel_id)
        await self._nudge()
        await self.ws.accept(subprotocol=V1 if self.v1 else None)
        state.connections += 1
        pumps = [asyncio.create_task(self._pump(name, s)) for name, s in self.sockets.items()]
        try:
            await self._receive()
        finally:
            state.connections = max(0, state.connections - 1)
            for task in pumps:
                task.cancel()
            for task in pumps:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            for socket in self.sockets.values():
                socket.close(linger=0)

    async def _nudge(self, *, attempts: int = 60) -> None:
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
            if await self._until(iopub, lambda m: _is_idle_of(m, sent), wait):
                break
            wait = min(0.5, wait * 2)
        await self._until(shell, lambda m: _parent_id(m) == sent[-1], 5.0)

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

    async def _receive(self) -> None:
        while True:
            try:
                message = await self.ws.receive()
            except WebSocketDisconnect:
                return
            if message["type"] == "websocket.disconnect":
                return
            try:
                self._forward(message.get("bytes"), message.get("text"))
            except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
                log.info("kernel %s: dropped a malformed frame: %s", self.kernel_id, exc)

    def _forward(self, data: bytes | None, text: str | None) -> None:
        if self.v1 and data is not None:
            channel, parts = unpack_v1(data)
            if channel not in self.sockets or len(parts) < 4:
                return
            if channel == "shell" and b"execute_request" in parts[0]:
                self._track(json.loads(parts[0]), json.loads(parts[3]))
            self.session.send_raw(self.sockets[channel], parts)
            return
        msg = unpack_legacy_binary(data) if data is not None else json.loads(text or "")
        channel = msg.pop("channel", None)
        if channel not in self.sockets:
            return
        if channel == "shell" and msg["header"].get("msg_type") == "execute_request":
            self._track(msg["header"], msg.get("content") or {})
        self.session.send(self.sockets[channel], msg)

    def _track(self, header: dict[str, Any], content: dict[str, Any]) -> None:
        if header.get("msg_type") == "execute_request" and not content.get("silent"):
            self.driver.track(self.kernel_id, str(header["msg_id"]), str(content.get("code", "")))

    async def _pump(self, channel: str, socket: zmq.asyncio.Socket) -> None:
        while True:
            raw = await socket.recv_multipart()
            _, parts = self.session.feed_identities(raw, copy=True)
            if self.v1:
                await self.ws.send_bytes(
                    pack_v1(channel, [p if isinstance(p, bytes) else p.bytes for p in parts[1:]])
                )
                continue
            msg = self.session.deserialize(parts, content=True)
            buffers = [bytes(b) for b in msg.pop("buffers", [])]
            msg["channel"] = channel
            for key in ("msg_id", "msg_type"):
                msg.pop(key, None)
            if buffers:
                await self.ws.send_bytes(pack_legacy_binary(msg, buffers))
            else:
                await self.ws.send_text(json.dumps(msg, default=_json_default))
