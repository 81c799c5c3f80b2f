"""/v1/sessions/{id}/files: the session's own directory."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from sessionhub.api.deps import CurrentPrincipal, Service, SessionId
from sessionhub.domain.models import FileInfo, FileList

router = APIRouter(prefix="/v1/sessions/{session_id}/files", tags=["files"])


@router.get("", response_model=FileList)
async def list_files(
    session_id: SessionId, principal: CurrentPrincipal, service: Service
) -> FileList:
    return FileList(items=await service.list_files(principal.workspace_id, session_id))


@router.put(
    "/{path:path}",
    status_code=201,
    response_model=FileInfo,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def upload_file(
    session_id: SessionId,
    path: str,
    request: Request,
    principal: CurrentPrincipal,
    service: Service,
) -> FileInfo:
    return await service.write_file(principal.workspace_id, session_id, path, request.stream())


@router.get(
    "/{path:path}",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def download_file(
    session_id: SessionId, path: str, principal: CurrentPrincipal, service: Service
) -> FileResponse:
    opened = await service.open_file(principal.workspace_id, session_id, path)
    return FileResponse(opened.serve_path, media_type="application/octet-stream",
                        background=BackgroundTask(opened.close))  # fmt: skip


@router.delete("/{path:path}", status_code=204)
async def delete_file(
    session_id: SessionId, path: str, principal: CurrentPrincipal, service: Service
) -> Response:
    await service.delete_file(principal.workspace_id, session_id, path)
    return Response(status_code=204)
