"""Export a session as one JSON document (streamed) or a tar.gz, and import it back."""

from __future__ import annotations

import base64
import io
import tarfile
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Literal

import anyio
from pydantic import BaseModel, ValidationError

from sessionhub.core.service import SessionService
from sessionhub.domain.errors import Invalid
from sessionhub.domain.models import Event, Session, SessionCreate

FORMAT = "sessionhub.export/1"
IMPORT_CHUNK = 1000
ImportProgress = Callable[[int, int], None]
"""Called as ``progress(events_stored, events_total)``: once the session exists (0),
then after each chunk of events is stored."""


class ExportedFile(BaseModel):
    path: str
    size: int
    modified_at: datetime | None = None
    content_base64: str


class ExportDocument(BaseModel):
    format: Literal["sessionhub.export/1"]
    session: Session
    events: list[Event]
    files: list[ExportedFile] = []


async def export_json(
    service: SessionService, workspace_id: str, session_id: str, *, include_files: bool
) -> AsyncIterator[bytes]:
    """The document, a page of events at a time: memory stays flat however long the log."""
    session = await service.get(workspace_id, session_id)
    yield b'{"format":"' + FORMAT.encode() + b'","session":' + session.model_dump_json().encode()
    yield b',"events":['
    sep = b""
    async for event in service.iter_events(workspace_id, session_id):
        yield sep + event.model_dump_json().encode()
        sep = b","
    yield b'],"files":['
    if include_files:
        sep = b""
        async for info, data in service.files.read_all(workspace_id, session_id):
            item = ExportedFile(**info.model_dump(), content_base64=base64.b64encode(data).decode())
            yield sep + item.model_dump_json().encode()
            sep = b","
    yield b"]}"


def parse_document(raw: bytes) -> ExportDocument:
    try:
        return ExportDocument.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise Invalid(f"not a sessionhub export document: {where}: {first['msg']}") from exc


async def import_document(
    service: SessionService, workspace_id: str, doc: ExportDocument, *, keep_ids: bool,
    progress: ImportProgress | None = None,
) -> Session:  # fmt: skip
    files = [(f.path, file_content(f), f.modified_at) for f in doc.files]
    return await import_parts(
        service, workspace_id, doc.session, doc.events, files,
        keep_ids=keep_ids, progress=progress,
    )  # fmt: skip


def file_content(file: ExportedFile) -> bytes:
    try:
        return base64.b64decode(file.content_base64, validate=True)
    except ValueError:  # binascii.Error too: not base64, or not ASCII at all
        raise Invalid(f"file {file.path!r}: content_base64 is not base64") from None


def iter_chunks(events: list[Event]) -> Iterator[list[Event]]:
    for start in range(0, len(events), IMPORT_CHUNK):
        yield events[start : start + IMPORT_CHUNK]


async def import_parts(
    service: SessionService,
    workspace_id: str,
    source: Session,
    events: list[Event],
    files: list[tuple[str, bytes, datetime | None]],
    *,
    keep_ids: bool,
    progress: ImportProgress | None = None,
) -> Session:
    """Recreate a session; on any failure nothing of it is left behind."""
    report = progress or (lambda done, total: None)
    spec = SessionCreate(
        kind=source.kind, name=source.name, title=source.title,
        attributes=source.attributes, metadata=source.metadata,
    )  # fmt: skip
    driver = service.drivers.get(source.kind)
    store = service.store
    created = await store.create_session(
        workspace_id=workspace_id, spec=spec, session_id=source.id if keep_ids else None,
        forked=(source.forked_from, source.forked_at_event) if source.forked_from else None,
    )  # fmt: skip
    sid = created.session.id
    report(0, len(events))
    try:
        for done, chunk in enumerate(iter_chunks(events), 1):
            await store.import_events(
                workspace_id=workspace_id, session_id=sid, events=chunk, keep_ids=keep_ids
            )
            report(min(done * IMPORT_CHUNK, len(events)), len(events))
        await store.finish_import(
            workspace_id=workspace_id, session_id=sid,
            last_seq=source.last_seq, created_at=source.created_at,
        )  # fmt: skip
        await service.files.create(workspace_id, sid)
        await service.files.restore(workspace_id, sid, files)
        await driver.on_create(created.session)
    except BaseException:
        ids = await store.delete_session(workspace_id=workspace_id, session_id=sid)
        for gone in ids:
            await service.files.remove(workspace_id, gone)
        raise
    return await service.get(workspace_id, sid)


async def export_tar(service: SessionService, workspace_id: str, session_id: str) -> Path:
    """Write session.json, events.jsonl and files/ into a temporary tar.gz."""
    session = await service.get(workspace_id, session_id)
    events_file = tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False)  # noqa: SIM115
    with events_file:
        async for event in service.iter_events(workspace_id, session_id):
            events_file.write(event.model_dump_json().encode() + b"\n")
    out = Path(tempfile.mkstemp(suffix=".tar.gz")[1])

    def build() -> None:
        with tarfile.open(out, "w:gz") as tar:
            add_bytes(tar, "session.json", session.model_dump_json().encode())
            tar.add(events_file.name, arcname="events.jsonl")
            service.files.add_to_tar(tar, workspace_id, session_id)
        Path(events_file.name).unlink()

    await anyio.to_thread.run_sync(build)
    return out


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


async def import_tar(
    service: SessionService, workspace_id: str, archive: Path, *, keep_ids: bool,
    progress: ImportProgress | None = None,
) -> Session:  # fmt: skip
    def read() -> tuple[Session, list[Event], list[tuple[str, bytes, datetime | None]]]:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                return read_tar(tar)
        except (tarfile.TarError, OSError, KeyError, ValueError) as exc:
            raise Invalid(f"not a sessionhub export archive: {exc}") from exc

    session, events, files = await anyio.to_thread.run_sync(read)
    return await import_parts(
        service, workspace_id, session, events, files, keep_ids=keep_ids, progress=progress
    )


def read_tar(
    tar: tarfile.TarFile,
) -> tuple[Session, list[Event], list[tuple[str, bytes, datetime | None]]]:
    member = tar.extractfile("session.json")
    if member is None:
        raise KeyError("session.json")
    session = Session.model_validate_json(member.read())
    events_member = tar.extractfile("events.jsonl")
    events = (
        []
        if events_member is None
        else [Event.model_validate_json(line) for line in events_member if line.strip()]
    )
    files: list[tuple[str, bytes, datetime | None]] = []
    for info in tar.getmembers():
        if info.isfile() and info.name.startswith("files/"):
            data = tar.extractfile(info)
            assert data is not None
            files.append(
                (
                    info.name[len("files/") :],
                    data.read(),
                    datetime.fromtimestamp(info.mtime).astimezone(),
                )
            )
    return session, events, files
