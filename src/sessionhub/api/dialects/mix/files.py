"""Mix session files: list, upload (multipart), download, delete, in the session directory."""

from __future__ import annotations

import mimetypes
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask
from starlette.datastructures import UploadFile
from starlette.responses import Response

from sessionhub.api.dialects.mix.common import MixCaller, json_response, load_session
from sessionhub.api.dialects.mix.errors import MixError
from sessionhub.domain.errors import TooLarge
from sessionhub.domain.models import FileInfo

router = APIRouter(prefix="/api/sessions/{session_id}/files")
MAX_UPLOAD = 32 * 1024 * 1024
MULTIPART_SLACK = 64 * 1024
THUMB = re.compile(r"^(\d+|w\d+|h\d+)$")
CHUNK = 256 * 1024


def file_info(request: Request, session_id: str, info: FileInfo) -> dict[str, Any]:
    base = str(request.url.replace(query="")).split("/api/sessions/", 1)[0]
    return {"name": info.path, "size": info.size, "modified": int(info.modified_at.timestamp()),
            "isDir": False, "url": f"{base}/api/sessions/{session_id}/files/{info.path}"}  # fmt: skip


def safe_name(raw: str) -> str:
    """A name that round-trips through the SDK's unescaped URL paths (see spec §11.2)."""
    name = re.split(r"[/\\]", raw)[-1]
    name = re.sub(r"[?#%\x00-\x1f\x7f]", "", name)
    name = re.sub(r"\s+", "_", name).lstrip(".")
    if not name:
        raise MixError("invalid file name", kind="bad_request")
    return name[:255]


@router.get("")
async def list_files(session_id: str, request: Request, caller: MixCaller) -> Response:
    await load_session(caller, session_id)
    items = await caller.service.list_files(caller.workspace_id, session_id)
    return json_response([file_info(request, session_id, i) for i in items])


@router.post("/upload")
async def upload_file(session_id: str, request: Request, caller: MixCaller) -> Response:
    await load_session(caller, session_id)
    length = request.headers.get("content-length", "")
    if length.isascii() and length.isdigit() and int(length) > MAX_UPLOAD + MULTIPART_SLACK:
        raise TooLarge("File too large (max 32MB)")
    form = await request.form(max_files=1, max_fields=20)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise MixError("file upload required", kind="bad_request")
        if upload.size is not None and upload.size > MAX_UPLOAD:
            raise TooLarge("File too large (max 32MB)")
        name = safe_name(upload.filename or "")
        info = await caller.service.write_file(
            caller.workspace_id, session_id, name, chunks(upload)
        )
    finally:
        await form.close()
    return json_response(file_info(request, session_id, info), 201)


async def chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while data := await upload.read(CHUNK):
        yield data


@router.get("/{filename:path}")
async def get_file(
    session_id: str,
    filename: str,
    caller: MixCaller,
    thumb: Annotated[str | None, Query()] = None,
    time: Annotated[str | None, Query()] = None,
) -> Response:
    """The file itself; ``thumb``/``time`` are checked as Mix does, the original is served."""
    if thumb is not None and not THUMB.match(thumb):
        raise MixError("invalid thumb parameter: use '100', 'w100' or 'h100'", kind="bad_request")
    if time is not None and not valid_time(time):
        raise MixError("invalid time parameter: a number from 0 to 86400", kind="bad_request")
    await load_session(caller, session_id)
    opened = await caller.service.open_file(caller.workspace_id, session_id, filename)
    kind = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return FileResponse(opened.serve_path, media_type=kind, background=BackgroundTask(opened.close))


def valid_time(value: str) -> bool:
    try:
        seconds = float(value)
    except ValueError:
        return False
    return 0 <= seconds <= 86_400


@router.delete("/{filename:path}")
async def delete_file(session_id: str, filename: str, caller: MixCaller) -> Response:
    await load_session(caller, session_id)
    await caller.service.delete_file(caller.workspace_id, session_id, filename)
    return Response(status_code=204)
