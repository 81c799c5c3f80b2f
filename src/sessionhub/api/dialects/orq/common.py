"""What both Orq generations share: the caller, the trace-session rules, paging."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import Depends, Request

from sessionhub.api.deps import authenticate
from sessionhub.core.hub import Hub
from sessionhub.domain.errors import Invalid
from sessionhub.domain.models import INT64_MAX
from sessionhub.kinds.trace.rules import TraceSessions

MAX_LIMIT = 100


class Orq:
    """Per request: the caller's workspace and the trace-session rules."""

    def __init__(self, workspace_id: str, traces: TraceSessions) -> None:
        self.workspace_id = workspace_id
        self.traces = traces


async def orq_caller(request: Request) -> Orq:
    hub: Hub = request.app.state.hub
    principal = await authenticate(request, hub)
    return Orq(principal.workspace_id, TraceSessions(hub.service))


OrqDep = Annotated[Orq, Depends(orq_caller)]


def paging(page: float | None, limit: float | None, default: int = 50) -> tuple[int, int]:
    """(limit, offset) from a 1-based page and a limit, numbers as ints or whole floats."""
    size = default if limit is None else limit
    number = 1 if page is None else page
    if not (math.isfinite(size) and math.isfinite(number)):  # NaN, Infinity
        raise Invalid("page and limit must be whole numbers")
    if size != int(size) or number != int(number):
        raise Invalid("page and limit must be whole numbers")
    if not 1 <= size <= MAX_LIMIT:
        raise Invalid(f"limit must be between 1 and {MAX_LIMIT}")
    if not 1 <= number <= INT64_MAX // MAX_LIMIT:
        raise Invalid(f"page must be between 1 and {INT64_MAX // MAX_LIMIT}")
    return int(size), (int(number) - 1) * int(size)
