"""The ``generic`` kind: a session that is just its log."""

from __future__ import annotations

from sessionhub.core.ports import Driver


class GenericDriver(Driver):
    kind = "generic"
