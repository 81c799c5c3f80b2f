"""OpenTelemetry spans of the server's own work, off unless the operator turns them on.

The store and the run supervisor open spans through `span`; while tracing is off
(the default) it hands back one shared no-op context manager, so the hot paths pay
a flag check and no tracer call. `sessionhub.api.telemetry` turns it on when
``SESSIONHUB_OTEL_TRACES`` is set, after installing the SDK's tracer provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from opentelemetry import trace

__all__ = ["enabled", "span", "turn_on"]

_OFF: AbstractContextManager[Any] = nullcontext()
_state = {"on": False}


def turn_on() -> None:
    _state["on"] = True


def enabled() -> bool:
    return _state["on"]


def span(
    name: str, attributes: Mapping[str, str | int | bool] | None = None
) -> AbstractContextManager[Any]:
    """A span named ``name`` around a block, current while it runs (no-op when off)."""
    if not _state["on"]:
        return _OFF
    return trace.get_tracer("sessionhub").start_as_current_span(name, attributes=attributes)
