"""One streamed chat completion through the official ``openai`` client."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

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
    """What the model said so far; complete once the stream ends."""

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


def _extra(obj: Any, *names: str) -> Any:
    extra = getattr(obj, "model_extra", None) or {}
    for name in names:
        if extra.get(name):
            return extra[name]
    return None


async def stream_reply(
    client: AsyncOpenAI, model: str, messages: list[dict[str, Any]],
    tools: list[dict[str, Any]], reply: Reply, emit: Emit,
) -> None:  # fmt: skip
    """Fill ``reply`` as chunks arrive, emitting Mix stream events for each."""
    stream = await client.chat.completions.create(
        model=model,
        messages=cast("list[ChatCompletionMessageParam]", messages),
        tools=cast("list[ChatCompletionToolParam]", tools),
        stream=True,
        stream_options={"include_usage": True},
    )  # fmt: skip
    by_index: dict[int, Call] = {}
    async for chunk in stream:
        if chunk.usage is not None:
            usage(reply, chunk.usage)
        for choice in chunk.choices:
            await delta(reply, choice.delta, by_index, emit)
            if choice.finish_reason:
                reply.finish = choice.finish_reason
    for call in reply.calls:
        await emit("tool_use_parameter_streaming_complete", {
            "type": "tool_use_parameter_streaming_complete", "id": call.id, "name": call.name,
            "input": call.input or "{}", "assistantMessageId": reply.id})  # fmt: skip


def usage(reply: Reply, data: Any) -> None:
    reply.input_tokens = int(data.prompt_tokens or 0)
    reply.output_tokens = int(data.completion_tokens or 0)
    cost = _extra(data, "cost")
    if isinstance(cost, int | float):
        reply.cost = float(cost)


async def delta(reply: Reply, d: Any, by_index: dict[int, Call], emit: Emit) -> None:
    thought = _extra(d, "reasoning_content", "reasoning")
    if isinstance(thought, str) and thought:
        reply.reasoning += thought
        reply.reasoning_ms = int((time.monotonic() - reply.started) * 1000)
        await emit("thinking", {"type": "thinking", "content": thought,
                                "assistantMessageId": reply.id})  # fmt: skip
    if d.content:
        reply.content += d.content
        await emit("content", {"type": "content", "content": d.content,
                               "assistantMessageId": reply.id})  # fmt: skip
    for tc in d.tool_calls or []:
        call = by_index.get(tc.index)
        if call is None:
            call = Call(id=tc.id or f"call_{reply.id}_{tc.index}", name=tc.function.name or "")
            by_index[tc.index] = call
            reply.calls.append(call)
            await emit("tool_use_start", {"type": "tool_use_start", "id": call.id,
                                          "name": call.name, "assistantMessageId": reply.id})  # fmt: skip
        if tc.function and tc.function.arguments:
            call.input += tc.function.arguments
            await emit("tool_use_parameter_delta", {
                "type": "tool_use_parameter_delta", "toolCallId": call.id,
                "input": tc.function.arguments, "assistantMessageId": reply.id})  # fmt: skip
