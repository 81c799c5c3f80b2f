"""sessionhub: one self-hosted server for every kind of session."""

from __future__ import annotations

__version__ = "0.1.0"
