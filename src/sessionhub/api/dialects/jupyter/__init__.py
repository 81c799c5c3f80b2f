"""The Jupyter Server dialect: ``/api/sessions``, ``/api/kernels``, kernelspecs and channels."""

from __future__ import annotations

from fastapi import FastAPI

from sessionhub.api.dialects import Dialect
from sessionhub.api.dialects.jupyter.app import build


class JupyterDialect(Dialect):
    name = "jupyter"
    prefix = "/jupyter"

    def create_app(self) -> FastAPI:
        return build()
