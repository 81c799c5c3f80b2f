"""The web UI at /ui (ARCHITECTURE §10): server-rendered pages over the same core service
the API uses, signed in with an API key; and /docs with its assets served locally."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from sessionhub.api.ui import actions, admin, docs, pages

STATIC = Path(__file__).parent / "static"


async def to_ui() -> RedirectResponse:
    return RedirectResponse("/ui", status_code=307)


def install(app: FastAPI, *, at_root: bool = True) -> None:
    """The UI's routes, its static files and /docs; with ``at_root`` also ``/`` as a
    redirect to ``/ui`` (not when a dialect is mounted at ``/``: that is the dialect's)."""
    if at_root:
        app.add_api_route("/", to_ui, include_in_schema=False)
    for router in (pages.router, actions.router, admin.router):
        app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    docs.install(app)
