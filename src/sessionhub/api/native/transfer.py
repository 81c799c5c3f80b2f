"""Export (streamed JSON or tar.gz) and import of whole sessions."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, StreamingResponse
from starlette.background import BackgroundTask

from sessionhub.api.deps import CurrentPrincipal, HubDep, Service, SessionId
from sessionhub.core import transfer
from sessionhub.domain.errors import TooLarge
from sessionhub.domain.models import Session

router = APIRouter(prefix="/v1/sessions", tags=["transfer"])


@router.get(
    "/{session_id}/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/json": {}}}},
)
async def export_session(
    session_id: SessionId,
    principal: CurrentPrincipal,
    service: Service,
    files: Literal["none", "inline"] = "none",
) -> StreamingResponse:
    await service.get(principal.workspace_id, session_id)
    body = transfer.export_json(
        service, principal.workspace_id, session_id, include_files=files == "inline"
    )
    return StreamingResponse(
        body,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{session_id}.json"'},
    )


@router.get(
    "/{session_id}/export.tar.gz",
    response_class=FileResponse,
    responses={200: {"content": {"application/gzip": {}}}},
)
async def export_session_tar(
    session_id: SessionId, principal: CurrentPrincipal, service: Service
) -> FileResponse:
    path = await transfer.export_tar(service, principal.workspace_id, session_id)
    return FileResponse(
        path,
        media_type="application/gzip",
        filename=f"{session_id}.tar.gz",
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


@router.post(
    "/import",
    status_code=201,
    response_model=Session,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ExportDocument"}},
                "application/gzip": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def import_session(
    request: Request,
    principal: CurrentPrincipal,
    hub: HubDep,
    keep_ids: Annotated[bool, Query(description="Keep the session and event ids.")] = False,
) -> Session:
    limit = hub.settings.max_import_bytes
    service = hub.service
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload"
        await spool(request, path, limit)
        if content_type in ("application/gzip", "application/x-gzip", "application/x-tar"):
            return await transfer.import_tar(
                service, principal.workspace_id, path, keep_ids=keep_ids
            )
        doc = transfer.parse_document(path.read_bytes())
        return await transfer.import_document(
            service, principal.workspace_id, doc, keep_ids=keep_ids
        )


async def spool(request: Request, path: Path, limit: int) -> None:
    size = 0
    with path.open("wb") as out:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"the import is over the limit of {limit} bytes")
            out.write(chunk)
