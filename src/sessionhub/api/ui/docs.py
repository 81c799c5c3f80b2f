"""/docs offline: Swagger UI 5 from the pinned ``swagger-ui-py`` package, served here,
and a bearer security scheme so its Authorize button takes an API key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import swagger_ui  # type: ignore[import-untyped]
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"
SWAGGER_STATIC = Path(swagger_ui.__file__).parent / "static"
SCHEME = {
    "ApiKey": {
        "type": "http", "scheme": "bearer",
        "description": "An API key (`sessionhub keys create`), sent as `Authorization: Bearer <key>`.",
    }
}  # fmt: skip


def with_security(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare the API key scheme; every operation may send it (``{}``: a ``--no-auth``
    server and the public health routes need none)."""
    schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(SCHEME)
    schema.setdefault("security", [{"ApiKey": []}, {}])
    return schema


def install(app: FastAPI) -> None:
    app.mount(ASSETS, StaticFiles(directory=SWAGGER_STATIC), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/v1/openapi.json", title="sessionhub API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            swagger_ui_parameters={"persistAuthorization": False},
        )  # fmt: skip
