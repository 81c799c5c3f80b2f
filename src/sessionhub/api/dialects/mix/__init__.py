"""The Mix dialect: ``mix-python-sdk`` talks to sessionhub as if it were Mix's server.

Mounted under ``/mix`` (``Mix(server_url="http://host:8700/mix")``). Sessions are
of kind ``agent``; Mix's own fields live in the session's ``attributes``.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from sessionhub.api.dialects import Dialect
from sessionhub.api.dialects.mix import errors, files, messages, sessions, stream


class MixDialect(Dialect):
    name = "mix"
    prefix = "/mix"

    def create_app(self) -> FastAPI:
        app = FastAPI(title="sessionhub — Mix dialect", docs_url=None, redoc_url=None)
        for module in (sessions, files, messages, stream):
            app.include_router(module.router)
        errors.install(app)
        # Mix's server answers browsers from any origin (specs/mix.md §1).
        app.add_middleware(
            CORSMiddleware,
            allow_origins=["*"],
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Content-Type", "Authorization", "X-Requested-With"],
        )
        return app
