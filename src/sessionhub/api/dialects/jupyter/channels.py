"""The kernel websocket ``/api/kernels/{id}/channels``: frames ⇄ the kernel's ZMQ channels.

Two framings, as Jupyter Server speaks them: the ``v1.kernel.websocket.jupyter.org``
subprotocol (binary: an offset table, the channel name, then the raw ZMQ message
parts, passed through unparsed) and the legacy one (a JSON text frame with a
``channel`` key, or a binary frame carrying buffers). The kernel side (routing,
tracking executions for the transcript) is ``sessionhub.kinds.kernel.bridge``.
"""

from __future__ import annotations

import itertools
import json
import logging
import struct
from datetime import datetime
from functools import partial
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from sessionhub.api.deps import bearer_secret
from sessionhub.api.forward import forwarder_of, websocket_to_owner
from sessionhub.core.hub import Hub
from sessionhub.core.nodes import kernel_resource
from sessionhub.domain.errors import NotFound, Unavailable
from sessionhub.kinds.kernel.bridge import KernelBridge
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
    try:
        if await websocket_to_owner(ws, kernel_resource(workspace_id, kernel_id)):
            return
        bridge = await KernelSessions.of(hub.service).bridge(workspace_id, kernel_id)
    except NotFound:
        await forwarder_of(ws.app).nodes.release(kernel_resource(workspace_id, kernel_id))
        await ws.close(code=1008)
        return
    except Unavailable:
        await ws.close(code=1011)
        return
    v1 = V1 in ws.scope.get("subprotocols", [])
    try:
        await bridge.ready()
        await ws.accept(subprotocol=V1 if v1 else None)
        await bridge.serve(partial(deliver, ws, bridge, v1=v1), receive(ws, bridge, v1=v1))
    finally:
        bridge.close()


async def receive(ws: WebSocket, bridge: KernelBridge, *, v1: bool) -> None:
    """The client's frames to the kernel until it disconnects; a malformed one is dropped."""
    while True:
        try:
            message = await ws.receive()
        except WebSocketDisconnect:
            return
        if message["type"] == "websocket.disconnect":
            return
        try:
            forward(bridge, message.get("bytes"), message.get("text"), v1=v1)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            log.info("kernel %s: dropped a malformed frame: %s", bridge.kernel_id, exc)


def forward(bridge: KernelBridge, data: bytes | None, text: str | None, *, v1: bool) -> None:
    if v1 and data is not None:
        bridge.send_raw(*unpack_v1(data))
        return
    msg = unpack_legacy_binary(data) if data is not None else json.loads(text or "")
    bridge.send(msg.pop("channel", None), msg)


async def deliver(ws: WebSocket, bridge: KernelBridge, channel: str, parts: list[bytes], *,
                  v1: bool) -> None:  # fmt: skip
    """A kernel message to the client, framed as it asked (``parts``: signature first)."""
    if v1:
        await ws.send_bytes(pack_v1(channel, parts[1:]))
        return
    msg = bridge.parse(parts)
    buffers = [bytes(b) for b in msg.pop("buffers", [])]
    msg["channel"] = channel
    for key in ("msg_id", "msg_type"):
        msg.pop(key, None)
    if buffers:
        await ws.send_bytes(pack_legacy_binary(msg, buffers))
    else:
        await ws.send_text(json.dumps(msg, default=_json_default))
