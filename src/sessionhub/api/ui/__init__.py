"""The web UI at /ui (ARCHITECTURE §10): server-rendered pages over the same core service
the API uses, signed in with an API key; and /docs with its assets served locally."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from sessionhub.api.ui import actions, admin, docs, pages

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    for router in (pages.router, actions.router, admin.router):
        app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    docs.install(app)
