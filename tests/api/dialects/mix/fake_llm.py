"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1 (a real HTTP server)."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeLLM:
    """Each request takes the next scripted reply: text, reasoning, tool calls, a delay."""

    def __init__(self, replies: list[dict[str, Any]]) -> None:
        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []
        self.authorizations: list[str | None] = []  # each request's Authorization header
        self.disconnects = 0  # requests whose client hung up while a reply was stalled
        self.closing = threading.Event()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeLLM:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()

    def stall(self, conn: socket.socket, seconds: float) -> bool:
        """Wait up to ``seconds``; False (and counted) as soon as the client hangs up."""
        deadline = time.monotonic() + seconds
        while not self.closing.is_set() and (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([conn], [], [], min(left, 0.05))
            if readable and not conn.recv(1, socket.MSG_PEEK):
                with self.lock:
                    self.disconnects += 1
                return False
        return True

    def next_reply(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.requests.append(body)
            return self.replies.pop(0) if self.replies else {"content": "(no more script)"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length))
                with fake.lock:
                    fake.authorizations.append(self.headers.get("authorization"))
                problem = inconsistency(body.get("messages", []))
                if problem is not None:
                    self.refuse(problem)
                    return
                reply = fake.next_reply(body)
                if body.get("stream"):
                    self.stream(reply)
                else:
                    self.whole(reply)

            def refuse(self, problem: str) -> None:
                """What OpenAI answers to a context it cannot accept."""
                error = {"message": problem, "type": "invalid_request_error"}
                data = json.dumps({"error": error}).encode()
                self.send_response(400)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def whole(self, reply: dict[str, Any]) -> None:
                if not fake.stall(self.connection, reply.get("delay", 0)):
                    return
                message: dict[str, Any] = {"role": "assistant", "content": reply.get("content")}
                if reply.get("reasoning"):
                    message["reasoning_content"] = reply["reasoning"]
                calls = tool_calls(reply)
                if calls:
                    message["tool_calls"] = calls
                data = json.dumps({
                    "id": "c1", "object": "chat.completion", "created": 0, "model": "fake",
                    "choices": [{"index": 0, "message": message,
                                 "finish_reason": "tool_calls" if calls else "stop"}],
                    "usage": usage(reply)}).encode()  # fmt: skip
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def stream(self, reply: dict[str, Any]) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                for delta in deltas(reply):
                    self.chunk({"choices": [{"index": 0, "delta": delta}]})
                if not fake.stall(self.connection, reply.get("delay", 0)):
                    return
                finish = "tool_calls" if reply.get("tools") else "stop"
                self.chunk({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
                self.chunk({"choices": [], "usage": usage(reply)})
                self.wfile.write(b"data: [DONE]\n\n")

            def chunk(self, data: dict[str, Any]) -> None:
                full = {"id": "c1", "object": "chat.completion.chunk", "created": 0,
                        "model": "fake", **data}  # fmt: skip
                self.wfile.write(f"data: {json.dumps(full)}\n\n".encode())
                self.wfile.flush()

        return Handler


def tool_calls(reply: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": f"call_{i}_{name}", "type": "function",
             "function": {"name": name, "arguments": json.dumps(args)}}
            for i, (name, args) in enumerate(reply.get("tools", []))]  # fmt: skip


def deltas(reply: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    if reply.get("reasoning"):
        out.append({"reasoning_content": reply["reasoning"]})
    text = reply.get("content") or ""
    out.extend({"content": text[i : i + 5]} for i in range(0, len(text), 5))
    for i, call in enumerate(tool_calls(reply)):
        args = call["function"]["arguments"]
        out.append({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                                    "function": {"name": call["function"]["name"], "arguments": ""}}]})  # fmt: skip
        half = len(args) // 2
        for part in (args[:half], args[half:]):
            out.append({"tool_calls": [{"index": i, "function": {"arguments": part}}]})
    return out


def usage(reply: dict[str, Any]) -> dict[str, Any]:
    return {"prompt_tokens": reply.get("prompt_tokens", 10),
            "completion_tokens": reply.get("completion_tokens", 5),
            "total_tokens": 15, "cost": reply.get("cost", 0.001)}  # fmt: skip


def inconsistency(messages: list[dict[str, Any]]) -> str | None:
    """OpenAI's rules for a context: every tool call answered right after it, nothing empty."""
    waiting: set[str] = set()
    for m in messages:
        if m["role"] == "tool":
            if m.get("tool_call_id") not in waiting:
                return f"tool message for an unknown call {m.get('tool_call_id')!r}"
            waiting.discard(m["tool_call_id"])
            continue
        if waiting:
            return f"tool calls without results: {sorted(waiting)}"
        if m["role"] == "assistant":
            if not m.get("content") and not m.get("tool_calls"):
                return "an assistant message needs content or tool_calls"
            waiting = {c["id"] for c in m.get("tool_calls") or []}
    return f"tool calls without results: {sorted(waiting)}" if waiting else None
