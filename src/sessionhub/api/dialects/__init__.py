"""Dialects: other products' session APIs, spoken on the wire by translating to the service.

A dialect is a plugin registered under the ``sessionhub.dialects`` entry-point group
(built-ins too). It builds its own ASGI sub-application — its own routes, wire models
and error envelope — which the server mounts under the dialect's prefix (and at ``/``
for ``--root-dialect``). The sub-application finds the running server's `Hub` as
``request.app.state.hub``; it holds no business rule the native API lacks.
"""

from __future__ import annotations

import abc
from importlib.metadata import entry_points
from typing import ClassVar

from fastapi import FastAPI

from sessionhub.domain.errors import Invalid

GROUP = "sessionhub.dialects"


class Dialect(abc.ABC):
    name: ClassVar[str]
    prefix: ClassVar[str]

    @abc.abstractmethod
    def create_app(self) -> FastAPI:
        """A fresh sub-application; called once per server (and once more for the root)."""


def load_dialects() -> dict[str, Dialect]:
    """Every installed dialect by name; a plugin that fails to import is an error."""
    found: dict[str, Dialect] = {}
    for ep in entry_points(group=GROUP):
        dialect = ep.load()()
        found[dialect.name] = dialect
    return found


def mount_dialects(app: FastAPI, root: str | None) -> list[FastAPI]:
    """Mount each dialect under its prefix, and ``root`` also at ``/``; returns the sub-apps."""
    dialects = load_dialects()
    if root is not None and root not in dialects:
        known = ", ".join(sorted(dialects)) or "none installed"
        raise Invalid(f"unknown --root-dialect {root!r}; known: {known}")
    mounted: list[FastAPI] = []
    for name in sorted(dialects):
        sub = dialects[name].create_app()
        app.mount(dialects[name].prefix, sub, name=f"dialect-{name}")
        mounted.append(sub)
    if root is not None:
        sub = dialects[root].create_app()
        app.mount("/", sub, name=f"dialect-{root}-root")
        mounted.append(sub)
    return mounted
