"""The Jupyter sub-application."""

from __future__ import annotations

from fastapi import FastAPI

from sessionhub.api.dialects.jupyter import channels, errors, routes


def build() -> FastAPI:
    app = FastAPI(title="sessionhub Jupyter dialect", openapi_url=None, docs_url=None,
                  redoc_url=None)  # fmt: skip
    app.include_router(routes.router)
    app.add_api_websocket_route("/api/kernels/{kernel_id}/channels", channels.channels)
    errors.install(app)
    return app
