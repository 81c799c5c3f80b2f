"""One chat completion through the official ``openai`` client, streamed or whole.

Either way the reply is reported through the same Mix stream events (a whole
reply arrives as one delta of each kind), so clients see one shape.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:  # importing openai costs ~0.6 s: the server's start does without it
    from openai import AsyncOpenAI
    from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam

Emit = Callable[[str, dict[str, Any]], Awaitable[None]]


@dataclass
class Call:
    id: str
    name: str
    input: str = ""


@dataclass
class Reply:
    """What the model said so far; complete once the request ends."""

    id: str
    content: str = ""
    reasoning: str = ""
    calls: list[Call] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    finish: str | None = None
    started: float = field(default_factory=time.monotonic)
    reasoning_ms: int = 0


@dataclass
class Request:
    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    stream: bool = True
    reasoning_effort: str | None = None

    def arguments(self) -> dict[str, Any]:
        args: dict[str, Any] = {
            "model": self.model,
            "messages": cast("list[ChatCompletionMessageParam]", self.messages),
            "tools": cast("list[ChatCompletionToolParam]", self.tools),
        }
        if self.reasoning_effort is not None:
            args["reasoning_effort"] = self.reasoning_effort
        if self.stream:
            args.update(stream=True, stream_options={"include_usage": True})
        return args


def _extra(obj: Any, *names: str) -> Any:
    extra = getattr(obj, "model_extra", None) or {}
    for name in names:
        if extra.get(name):
            return extra[name]
    return None


async def ask(client: AsyncOpenAI, request: Request, reply: Reply, emit: Emit) -> None:
    """Fill ``reply`` from the provider, emitting Mix stream events as it arrives."""
    if request.stream:
        await stream_reply(client, request, reply, emit)
    else:
        await whole_reply(client, request, reply, emit)
    for call in reply.calls:
        await emit("tool_use_parameter_streaming_complete", {
            "type": "tool_use_parameter_streaming_complete", "id": call.id, "name": call.name,
            "input": call.input or "{}", "assistantMessageId": reply.id})  # fmt: skip


async def stream_reply(client: AsyncOpenAI, request: Request, reply: Reply, emit: Emit) -> None:
    stream = await client.chat.completions.create(**request.arguments())
    by_index: dict[int, Call] = {}
    async for chunk in stream:
        if chunk.usage is not None:
            usage(reply, chunk.usage)
        for choice in chunk.choices:
            await delta(reply, choice.delta, by_index, emit)
            if choice.finish_reason:
                reply.finish = choice.finish_reason


async def whole_reply(client: AsyncOpenAI, request: Request, reply: Reply, emit: Emit) -> None:
    """A non-streaming completion, reported as if it had arrived in one chunk of each kind."""
    completion = await client.chat.completions.create(**request.arguments())
    if completion.usage is not None:
        usage(reply, completion.usage)
    if not completion.choices:
        return
    choice = completion.choices[0]
    reply.finish = choice.finish_reason
    message = choice.message
    await thought(reply, _extra(message, "reasoning_content", "reasoning"), emit)
    await text(reply, message.content, emit)
    by_index: dict[int, Call] = {}
    functions = [tc for tc in message.tool_calls or [] if tc.type == "function"]
    for index, tc in enumerate(functions):
        await call_part(reply, by_index, index, tc.id, tc.function.name, tc.function.arguments,
                        emit)  # fmt: skip


def usage(reply: Reply, data: Any) -> None:
    reply.input_tokens = int(data.prompt_tokens or 0)
    reply.output_tokens = int(data.completion_tokens or 0)
    cost = _extra(data, "cost")
    if isinstance(cost, int | float):
        reply.cost = float(cost)


async def delta(reply: Reply, d: Any, by_index: dict[int, Call], emit: Emit) -> None:
    await thought(reply, _extra(d, "reasoning_content", "reasoning"), emit)
    await text(reply, d.content, emit)
    for tc in d.tool_calls or []:
        fn = tc.function
        await call_part(reply, by_index, tc.index, tc.id, fn.name if fn else None,
                        fn.arguments if fn else None, emit)  # fmt: skip


async def thought(reply: Reply, piece: Any, emit: Emit) -> None:
    if isinstance(piece, str) and piece:
        reply.reasoning += piece
        reply.reasoning_ms = int((time.monotonic() - reply.started) * 1000)
        await emit("thinking", {"type": "thinking", "content": piece,
                                "assistantMessageId": reply.id})  # fmt: skip


async def text(reply: Reply, piece: str | None, emit: Emit) -> None:
    if piece:
        reply.content += piece
        await emit("content", {"type": "content", "content": piece,
                               "assistantMessageId": reply.id})  # fmt: skip


async def call_part(
    reply: Reply, by_index: dict[int, Call], index: int, call_id: str | None,
    name: str | None, arguments: str | None, emit: Emit,
) -> None:  # fmt: skip
    """The start of a tool call (its first part) and each piece of its JSON arguments."""
    call = by_index.get(index)
    if call is None:
        call = Call(id=call_id or f"call_{reply.id}_{index}", name=name or "")
        by_index[index] = call
        reply.calls.append(call)
        await emit("tool_use_start", {"type": "tool_use_start", "id": call.id,
                                      "name": call.name, "assistantMessageId": reply.id})  # fmt: skip
    if arguments:
        call.input += arguments
        await emit("tool_use_parameter_delta", {
            "type": "tool_use_parameter_delta", "toolCallId": call.id,
            "input": arguments, "assistantMessageId": reply.id})  # fmt: skip


async def describe(
    client: AsyncOpenAI, model: str, prompt: str, data_url: str
) -> tuple[str, float]:
    """One image and a prompt to the provider (no tools): its answer and what it cost."""
    content = [
        {"type": "text", "text": prompt},
        {"type": "image_url", "image_url": {"url": data_url}},
    ]
    messages = cast("list[ChatCompletionMessageParam]", [{"role": "user", "content": content}])
    completion = await client.chat.completions.create(model=model, messages=messages)
    reply = Reply(id="")
    if completion.usage is not None:
        usage(reply, completion.usage)
    text = completion.choices[0].message.content if completion.choices else None
    return text or "", reply.cost
