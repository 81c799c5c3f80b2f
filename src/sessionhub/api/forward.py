"""Forwarding: a request for a resource another node owns is sent on to that node.

A kernel lives in one server process (a node, ``sessionhub.core.nodes``). A request
that needs it (the native execute, the Jupyter kernel routes and its websocket)
asks the node service who holds the kernel's lease; when another live node does,
the request goes there: HTTP through httpx, the websocket frame by frame (text and
binary, both directions) through the ``websockets`` client. The forwarded request
carries the cluster's secret in ``x-sessionhub-forward``: a node that sees it serves
the request itself instead of forwarding again. ``ForwardMark`` removes the header
from every incoming request and marks only those whose value is the secret, so no
client key can forge it.

With ``--workers N`` every worker also listens on a port of its own
(``worker_listener``), the address it registers: the shared port would land a
forwarded request on any worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import httpx
import uvicorn
import websockets
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from sessionhub.config import Settings
from sessionhub.core.nodes import NodeService
from sessionhub.domain.errors import Unavailable
from sessionhub.domain.nodes import Node
from sessionhub.logs import current_request_id

log = logging.getLogger(__name__)
FORWARD_HEADER = "x-sessionhub-forward"
FORWARDED = "sessionhub.forwarded"  # the scope key ForwardMark sets
# hop-by-hop headers, and those the forwarder recomputes
REQUEST_SKIP = frozenset({"host", "content-length", "connection", "transfer-encoding",
                          "keep-alive", "upgrade", "x-request-id", FORWARD_HEADER})  # fmt: skip
RESPONSE_SKIP = frozenset({"content-length", "connection", "transfer-encoding",
                           "content-encoding", "keep-alive", "x-request-id"})  # fmt: skip
WS_PASS = frozenset({"authorization", "cookie", "origin"})
ASK_TIMEOUT = 2.0  # seconds a list waits for an owner's model of its kernel
ASK_AT_ONCE = 8  # owners asked at the same time by one list


class ForwardMark:
    """Strip ``x-sessionhub-forward`` from every request; mark it forwarded only when its
    value is the cluster secret (compared in constant time)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            name = FORWARD_HEADER.encode()
            sent = [v for k, v in scope["headers"] if k.lower() == name]
            if sent:
                scope["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() != name]
                scope[FORWARDED] = self._genuine(scope, sent[0])
        await self.app(scope, receive, send)

    @staticmethod
    def _genuine(scope: Scope, value: bytes) -> bool:
        forwarder: Forwarder | None = getattr(scope["app"].state, "forwarder", None)
        secret = forwarder.secret.encode() if forwarder is not None else b""
        return bool(secret) and hmac.compare_digest(value, secret)


class Forwarder:
    """This node's way to the owners of resources it does not hold."""

    def __init__(self, nodes: NodeService, client: httpx.AsyncClient) -> None:
        self.nodes = nodes
        self.client = client

    @classmethod
    @asynccontextmanager
    async def open(cls, nodes: NodeService) -> AsyncIterator[Forwarder]:
        # no read timeout: the owner bounds its own work (an execute has its timeout)
        timeout = httpx.Timeout(None, connect=5.0)
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            yield cls(nodes, client)

    @property
    def secret(self) -> str:
        return self.nodes.secret

    async def owner_elsewhere(self, scope: Scope, resource: str) -> Node | None:
        """The live node holding ``resource`` when it is not this one (None: serve here,
        the lease is ours, taken over if its holder went silent)."""
        lease = await self.nodes.claim(resource)
        if self.nodes.holds(lease):
            return None
        if scope.get(FORWARDED):
            raise Unavailable("the resource moved to another node meanwhile; try again")
        return lease.owner

    async def http(self, request: Request, node: Node) -> Response:
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in REQUEST_SKIP]
        headers += [(FORWARD_HEADER, self.secret), ("x-request-id", current_request_id())]
        url = node.url + request.url.path
        try:
            upstream = await self.client.request(
                request.method, url, params=request.url.query or None,
                content=await request.body(), headers=headers,
            )  # fmt: skip
        except httpx.TransportError as exc:
            raise Unavailable(
                f"node {node.id}, which runs this kernel, did not answer ({type(exc).__name__}); "
                "another node takes the kernel over once that node stops heartbeating"
            ) from None
        response = Response(upstream.content, status_code=upstream.status_code)
        response.raw_headers += [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in upstream.headers.multi_items()
            if k.lower() not in RESPONSE_SKIP
        ]
        return response

    async def ask(self, request: Request, node: Node, path: str) -> Any:
        """The owner's JSON answer to a GET of ``path`` with the caller's credentials;
        None when it does not answer in ``ASK_TIMEOUT`` or answers other than 200."""
        headers = [(k, v) for k, v in request.headers.items() if k.lower() in WS_PASS]
        headers += [(FORWARD_HEADER, self.secret), ("x-request-id", current_request_id())]
        try:
            answer = await self.client.get(node.url + path, headers=headers, timeout=ASK_TIMEOUT)
            return answer.json() if answer.status_code == 200 else None
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("node %s did not answer GET %s: %r", node.id, path, exc)
            return None

    async def websocket(self, ws: WebSocket, node: Node) -> None:
        """Join the client's websocket to one opened on the owner, until either closes."""
        try:
            upstream = await self._connect(ws, node)
        except websockets.InvalidStatus:
            await ws.close(code=1008)
            return
        except (OSError, TimeoutError, websockets.InvalidHandshake):
            log.warning("node %s did not take a forwarded websocket", node.id)
            await ws.close(code=1011)
            return
        async with upstream:
            await ws.accept(subprotocol=upstream.subprotocol)
            await join(ws, upstream)

    async def _connect(self, ws: WebSocket, node: Node) -> ClientConnection:
        base = urlsplit(node.url)
        scheme = "wss" if base.scheme == "https" else "ws"
        url = urlunsplit((scheme, base.netloc, ws.url.path, ws.url.query, ""))
        headers = [(k, v) for k, v in ws.headers.items() if k.lower() in WS_PASS]
        offered = cast(Sequence[Subprotocol], ws.scope.get("subprotocols") or ()) or None
        return await connect(
            url, additional_headers=[*headers, (FORWARD_HEADER, self.secret)],
            subprotocols=offered, max_size=None, open_timeout=10, compression=None,
        )  # fmt: skip


async def join(ws: WebSocket, upstream: ClientConnection) -> None:
    pumps = [
        asyncio.create_task(client_to_owner(ws, upstream)),
        asyncio.create_task(owner_to_client(upstream, ws)),
    ]
    try:
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pump in pumps:
            pump.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await ws.close()


async def client_to_owner(ws: WebSocket, upstream: ClientConnection) -> None:
    with contextlib.suppress(WebSocketDisconnect, websockets.ConnectionClosed):
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("bytes") is not None:
                await upstream.send(message["bytes"])
            elif message.get("text") is not None:
                await upstream.send(message["text"])


async def owner_to_client(upstream: ClientConnection, ws: WebSocket) -> None:
    with contextlib.suppress(websockets.ConnectionClosed, RuntimeError):
        async for data in upstream:
            if isinstance(data, bytes):
                await ws.send_bytes(data)
            else:
                await ws.send_text(data)


def forwarder_of(app: Any) -> Forwarder:
    forwarder: Forwarder = app.state.forwarder
    return forwarder


async def to_owner(request: Request, resource: str) -> Response | None:
    """The owner's answer when another node holds ``resource``; None: serve it here."""
    forwarder = forwarder_of(request.app)
    node = await forwarder.owner_elsewhere(request.scope, resource)
    return None if node is None else await forwarder.http(request, node)


async def ask_owners(request: Request, paths: dict[str, str]) -> dict[str, Any]:
    """For each resource (key) another live node holds, that node's answer to a GET of
    its path (value): at most ``ASK_AT_ONCE`` at a time, each bounded by ``ASK_TIMEOUT``.
    Resources held here, by nobody, or whose owner did not answer are left out."""
    forwarder = forwarder_of(request.app)
    owners = await forwarder.nodes.held_elsewhere(list(paths))
    limit = asyncio.Semaphore(ASK_AT_ONCE)

    async def one(resource: str, node: Node) -> Any:
        async with limit:
            return await forwarder.ask(request, node, paths[resource])

    answers = await asyncio.gather(*(one(r, n) for r, n in owners.items()))
    return {r: a for r, a in zip(owners, answers, strict=True) if a is not None}


async def claim_here(request: Request, resource: str) -> None:
    """Record a resource just started on this node (the caller holds it unless a live
    node got there first, which the next request's forwarding then honours)."""
    await forwarder_of(request.app).nodes.claim(resource)


async def release_here(request: Request, resource: str) -> None:
    await forwarder_of(request.app).nodes.release(resource)


async def websocket_to_owner(ws: WebSocket, resource: str) -> bool:
    """Whether the websocket was served by the node holding ``resource`` (not this one)."""
    forwarder = forwarder_of(ws.app)
    node = await forwarder.owner_elsewhere(ws.scope, resource)
    if node is None:
        return False
    await forwarder.websocket(ws, node)
    return True


class QuietServer(uvicorn.Server):
    """A second listener inside a worker: the worker's own signal handling stays."""

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield


@asynccontextmanager
async def worker_listener(app: ASGIApp, settings: Settings) -> AsyncIterator[str | None]:
    """With ``--workers N``, this worker's own address (a free port on the same host);
    None for a single process, which is reached at its advertised URL."""
    if settings.workers <= 1:
        yield None
        return
    sock = socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET)
    sock.bind((settings.host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False)
    server = QuietServer(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    base = urlsplit(settings.advertised_url)
    try:
        yield urlunsplit((base.scheme, f"{base.hostname}:{port}", "", "", ""))
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        sock.close()
