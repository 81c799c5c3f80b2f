"""Export (streamed JSON or tar.gz) and import of whole sessions."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from sessionhub.api.deps import CurrentPrincipal, HubDep, Service, SessionId
from sessionhub.api.problems import problem_of
from sessionhub.core import transfer
from sessionhub.core.service import SessionService
from sessionhub.domain.errors import TooLarge
from sessionhub.domain.models import Session

router = APIRouter(prefix="/v1/sessions", tags=["transfer"])
NDJSON = "application/x-ndjson"
ARCHIVE_TYPES = ("application/gzip", "application/x-gzip", "application/x-tar")


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
    responses={201: {"content": {NDJSON: {"schema": {"type": "string"}}}}},
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
) -> Any:
    """With ``Accept: application/x-ndjson`` the answer is the server's progress, a JSON
    line per chunk of events stored, then the session (or the error) as the last line."""
    scratch = Path(tempfile.mkdtemp(prefix="sessionhub-import-"))
    handed_over = False  # to the streamed import, which removes the upload when done
    try:
        await spool(request, scratch / "upload", hub.settings.max_import_bytes)
        run = importer(hub.service, principal.workspace_id, scratch / "upload",
                       request.headers.get("content-type", ""), keep_ids)  # fmt: skip
        if NDJSON not in request.headers.get("accept", ""):
            return await run(None)
        handed_over = True
        return await streamed(run, cleanup=lambda: shutil.rmtree(scratch, ignore_errors=True))
    finally:
        if not handed_over:
            shutil.rmtree(scratch, ignore_errors=True)


Importer = Callable[[transfer.ImportProgress | None], Awaitable[Session]]


def importer(
    service: SessionService, workspace_id: str, path: Path, content_type: str, keep_ids: bool
) -> Importer:
    async def run(progress: transfer.ImportProgress | None) -> Session:
        if content_type.split(";")[0].strip().lower() in ARCHIVE_TYPES:
            return await transfer.import_tar(
                service, workspace_id, path, keep_ids=keep_ids, progress=progress
            )
        doc = transfer.parse_document(path.read_bytes())
        return await transfer.import_document(
            service, workspace_id, doc, keep_ids=keep_ids, progress=progress
        )

    return run


async def streamed(run: Importer, cleanup: Callable[[], None]) -> Response:
    """Run the import, answering with its progress once the session exists: a failure
    before that (a bad document, an id taken) is still the usual 4xx."""
    lines: asyncio.Queue[bytes] = asyncio.Queue()
    begun = asyncio.Event()

    def progress(done: int, total: int) -> None:
        line = {"type": "progress", "events_done": done, "events_total": total}
        lines.put_nowait(orjson.dumps(line) + b"\n")
        begun.set()

    def finished(_: object) -> None:
        cleanup()
        begun.set()

    task = asyncio.ensure_future(run(progress))
    task.add_done_callback(finished)
    await begun.wait()
    if lines.empty():  # ended before the session existed: the usual answer
        return JSONResponse((await task).model_dump(mode="json"), status_code=201)
    return StreamingResponse(progress_lines(task, lines), status_code=201, media_type=NDJSON)


async def progress_lines(task: asyncio.Future[Session], lines: asyncio.Queue[bytes]) -> Any:
    while not (task.done() and lines.empty()):
        line = asyncio.ensure_future(lines.get())
        either: set[asyncio.Future[Any]] = {line, task}
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if line.done():
            yield line.result()
        else:
            line.cancel()
    failure = task.exception()
    if failure is not None:
        yield orjson.dumps({"type": "error", "problem": problem_of(failure)}) + b"\n"
    else:
        session = task.result().model_dump(mode="json")
        yield orjson.dumps({"type": "session", "session": session}) + b"\n"


async def spool(request: Request, path: Path, limit: int) -> None:
    size = 0
    with path.open("wb") as out:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"the import is over the limit of {limit} bytes")
            out.write(chunk)
