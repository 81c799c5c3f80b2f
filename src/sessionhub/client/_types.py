"""Shared aliases and sentinels of the client SDK."""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from datetime import datetime
from typing import IO, Literal, TypeAlias, TypedDict

import httpx

from sessionhub.domain.models import SessionStatus

TimeoutTypes: TypeAlias = float | httpx.Timeout | None
"""Seconds, an ``httpx.Timeout``, or ``None`` for no timeout."""

ExportFiles = Literal["none", "inline"]

FileSource = str | os.PathLike[str] | IO[bytes]
"""A path on disk or an open binary file: the client streams it, never reads it whole."""

ProgressCallback = Callable[[int, int | None], None]
"""Called as ``progress(bytes_done, bytes_total)``; ``bytes_total`` is ``None`` when unknown."""


class UseClientDefault:
    """The type of :data:`USE_CLIENT_DEFAULT`: "use what the client was built with".

    Per-call ``timeout=`` takes this by default, so ``timeout=None`` can mean
    "no timeout" for one call.
    """

    def __repr__(self) -> str:
        return "USE_CLIENT_DEFAULT"


USE_CLIENT_DEFAULT = UseClientDefault()


class NotGiven(enum.Enum):
    """The type of :data:`NOT_GIVEN`: a field left out of a partial update.

    ``None`` clears a field; ``NOT_GIVEN`` leaves it as it is.
    """

    NOT_GIVEN = "NOT_GIVEN"

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN = NotGiven.NOT_GIVEN

Timeout: TypeAlias = TimeoutTypes | UseClientDefault
"""A per-call ``timeout=``: a :data:`TimeoutTypes` value, or :data:`USE_CLIENT_DEFAULT`."""


class SessionFilters(TypedDict, total=False):
    """Filters of ``GET /v1/sessions`` (``limit`` is the page size)."""

    kind: str
    parent_id: str
    status: SessionStatus | str
    name: str
    metadata: dict[str, str]
    created_after: datetime
    created_before: datetime
    include_children: bool
    limit: int
