"""Fast JSON bodies for hot routes: one ``model_validate_json`` pass, no dict stage."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

M = TypeVar("M", bound=BaseModel)


def is_json(content_type: str | None) -> bool:
    """FastAPI's rule for parsing a body as JSON: ``application/json`` or
    ``application/*+json``, and no content type is not JSON."""
    if content_type is None:
        return False
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


NOT_JSON = "Input should be a valid dictionary or object to extract fields from"


async def read_model(request: Request, model: type[M]) -> M:
    """``model`` from a JSON body, refused as a route with a body parameter refuses
    it: a body without a JSON content type is a 422, as on ``POST /v1/sessions``."""
    body = await request.body()
    if not is_json(request.headers.get("content-type")):
        error = {"type": "model_attributes_type", "loc": ("body",), "msg": NOT_JSON}
        raise RequestValidationError([error])
    try:
        return model.model_validate_json(body or b"")
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from exc


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting a body that a route reads with `read_model`."""
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


def json_response(model: BaseModel, status_code: int = 200, **headers: str) -> Response:
    return Response(
        model.model_dump_json(), status_code=status_code, media_type="application/json",
        headers=headers or None,
    )  # fmt: skip
