"""The Orq dialect: trace sessions (``/v2/traces/sessions``) and threads (``/v2/sessions``).

Mounted under ``/orq``: ``Orq(server_url="http://127.0.0.1:8700/orq", api_key=…)``.
"""

from __future__ import annotations

from fastapi import FastAPI

from sessionhub.api.dialects import Dialect
from sessionhub.api.dialects.orq import errors, legacy, threads


class OrqDialect(Dialect):
    name = "orq"
    prefix = "/orq"

    def create_app(self) -> FastAPI:
        app = FastAPI(
            title="sessionhub: Orq dialect", openapi_url="/openapi.json", docs_url=None,
            redoc_url=None,
        )  # fmt: skip
        app.include_router(legacy.router)
        app.include_router(threads.router)
        errors.install(app)
        return app
