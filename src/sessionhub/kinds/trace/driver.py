"""The ``trace`` kind: a thread of traces (Orq trace sessions).

Its state is the client-given fields in attributes and the traces as events; the
numbers it reports are rolled up from the events by ``sessionhub.kinds.trace.rules``,
so fork and rewind need nothing beyond the store's own recount. No runs.
"""

from __future__ import annotations

from sessionhub.core.ports import Capability, Driver


class TraceDriver(Driver):
    kind = "trace"
    capabilities = frozenset({Capability.fork, Capability.rewind})
