"""A ``kernel`` session's attributes: where it is (Jupyter's path, type, name) and its kernel.

Stored as JSON on the session; read through ``KernelAttributes.of(session)``.
Other keys a client may have set are kept in storage and ignored here.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, field_validator

from sessionhub.domain.attributes.base import KindAttributes


class KernelAttributes(KindAttributes):
    """What the kernel kind keeps in a session's attributes.

    ``kernel_id`` names the session's kernel (empty until one is bound),
    ``kernel_name`` its kernelspec (None: the server's default). ``path`` is the
    Jupyter path (also the session's ``name``), ``type`` Jupyter's session type
    (``notebook``, ``console``, ``file``) and ``jupyter_name`` Jupyter's ``name``.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    path: str = ""
    type: str = ""
    jupyter_name: str = ""
    kernel_id: str = ""
    kernel_name: str | None = None

    @field_validator("path", "type", "jupyter_name", "kernel_id", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str:
        """A null or missing value reads as empty; anything else as its text."""
        return "" if value is None else str(value)

    @field_validator("kernel_name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> str | None:
        return None if value is None or value == "" else str(value)

    @classmethod
    def patch(cls, **fields: str | None) -> dict[str, Any]:
        """The attributes to merge for the fields given (None: left as stored)."""
        given = {key: value for key, value in fields.items() if value is not None}
        unknown = sorted(given.keys() - cls.model_fields.keys())
        if unknown:
            raise TypeError(f"not a kernel attribute: {', '.join(unknown)}")
        return cls.model_validate(given).model_dump(include=set(given))

    @classmethod
    def bound_to(cls, kernel_id: str, kernel_name: str) -> dict[str, Any]:
        """The attributes to merge when a session is bound to a kernel."""
        return cls.patch(kernel_id=kernel_id, kernel_name=kernel_name)

    def stored(self) -> dict[str, Any]:
        """Every field, as stored on the session."""
        return self.model_dump()
