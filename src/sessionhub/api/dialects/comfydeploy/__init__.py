"""The ComfyDeploy dialect: machine sessions in the shapes of ``comfydeploy==0.6.3``."""

from __future__ import annotations

from fastapi import FastAPI

from sessionhub.api.dialects import Dialect


class ComfyDeployDialect(Dialect):
    name = "comfydeploy"
    prefix = "/comfydeploy/api"

    def create_app(self) -> FastAPI:
        from sessionhub.api.dialects.comfydeploy import errors, routes

        app = FastAPI(title="sessionhub: ComfyDeploy", docs_url=None, redoc_url=None)
        app.include_router(routes.router)
        errors.install(app)
        return app
