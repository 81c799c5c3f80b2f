"""The asynchronous client: ``BaseClient``'s calls sent over an ``httpx.AsyncClient``.

File reads and writes run in worker threads (``anyio``), never on the event loop.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import IO, Any, Self, TypeVar

import anyio
import httpx
from anyio import AsyncFile
from typing_extensions import Unpack

from sessionhub.client._base import (
    CHUNK_SIZE,
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    BaseClient,
    Call,
    ClientState,
    content_length,
    next_after,
    sniff_content_type,
    source_length,
)
from sessionhub.client._exceptions import error_from_response, map_transport_errors
from sessionhub.client._import import ImportFeed, ServerProgress, answers_with_progress
from sessionhub.client._sse import EventReader
from sessionhub.client._types import (
    NOT_GIVEN,
    USE_CLIENT_DEFAULT,
    ExportFiles,
    FileSource,
    NotGiven,
    ProgressCallback,
    SessionFilters,
    Timeout,
    TimeoutTypes,
)
from sessionhub.domain.models import (
    ApiKey,
    ApiKeyCreated,
    CancelResult,
    Event,
    EventCreate,
    FileInfo,
    Json,
    Page,
    RewindResult,
    Role,
    Run,
    Session,
    SessionStatus,
)

T = TypeVar("T")


@asynccontextmanager
async def _open_source(source: FileSource) -> AsyncIterator[AsyncFile[bytes]]:
    if isinstance(source, str | os.PathLike):
        async with await anyio.open_file(source, "rb") as file:
            yield file
    else:
        yield anyio.wrap_file(source)


async def _chunks(
    file: AsyncFile[bytes], head: bytes, total: int | None, progress: ProgressCallback | None
) -> AsyncIterator[bytes]:
    done = 0
    chunk = head or await file.read(CHUNK_SIZE)
    while chunk:
        yield chunk
        done += len(chunk)
        if progress is not None:
            progress(done, total)
        chunk = await file.read(CHUNK_SIZE)


class AsyncClient(BaseClient):
    """An asynchronous sessionhub client; the same calls as :class:`Client`, awaited.

    Use it as an async context manager, or ``await client.aclose()`` when done.
    ``transport`` takes any ``httpx.AsyncBaseTransport`` (``httpx.ASGITransport``
    runs it against the app in-process).
    """

    def __init__(
        self,
        *,
        base_url: str | httpx.URL = DEFAULT_BASE_URL,
        api_key: str | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url=base_url, api_key=api_key, timeout=timeout, headers=headers)
        self._http = httpx.AsyncClient(transport=transport)

    # -- lifecycle -------------------------------------------------------------

    async def aclose(self) -> None:
        if self._state is not ClientState.CLOSED:
            self._state = ClientState.CLOSED
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        self._enter()
        await self._http.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self._state = ClientState.CLOSED
        await self._http.__aexit__(exc_type, exc_value, traceback)

    # -- I/O -------------------------------------------------------------------

    async def _send(
        self, request: httpx.Request, timeout: Timeout, *, stream: bool = False
    ) -> httpx.Response:
        """Send; for ``stream=True`` the caller must close the response."""
        self._check_open()
        self._with_timeout(request, timeout)
        with map_transport_errors(request.url):
            response = await self._http.send(request, stream=stream)
        if stream and response.is_error:
            try:
                with map_transport_errors(request.url):
                    await response.aread()
            finally:
                await response.aclose()
            raise error_from_response(response)
        return response

    async def _call(self, call: Call[T], timeout: Timeout) -> T:
        return self._parse(call, await self._send(call.request, timeout))

    async def _download(
        self,
        request: httpx.Request,
        file: IO[bytes],
        progress: ProgressCallback | None,
        timeout: Timeout,
    ) -> int:
        response = await self._send(request, timeout, stream=True)
        total, done = content_length(response), 0
        out = anyio.wrap_file(file)
        try:
            with map_transport_errors(request.url):
                async for chunk in response.aiter_bytes():
                    await out.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
        finally:
            await response.aclose()
        return done

    # -- sessions ----------------------------------------------------------------

    async def create_session(
        self,
        *,
        kind: str = "generic",
        name: str | None = None,
        title: str | None = None,
        parent_id: str | None = None,
        attributes: Json | None = None,
        metadata: Json | None = None,
        ttl_seconds: int | None = None,
        idempotency_key: str | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> Session:
        """Create a session; a repeated ``idempotency_key`` returns the first one."""
        call = self._build_create_session(
            kind=kind,
            name=name,
            title=title,
            parent_id=parent_id,
            attributes=attributes,
            metadata=metadata,
            ttl_seconds=ttl_seconds,
            idempotency_key=idempotency_key,
        )
        return await self._call(call, timeout)

    async def get_session(
        self, session_id: str, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> Session:
        return await self._call(self._build_get_session(session_id), timeout)

    async def list_sessions(
        self,
        *,
        cursor: str | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
        **filters: Unpack[SessionFilters],
    ) -> Page[Session]:
        """One page of sessions, newest first; pass ``next_cursor`` back as ``cursor``."""
        return await self._call(self._build_list_sessions(filters, cursor), timeout)

    async def iter_sessions(
        self, *, timeout: Timeout = USE_CLIENT_DEFAULT, **filters: Unpack[SessionFilters]
    ) -> AsyncIterator[Session]:
        """Every matching session, fetching one page (of ``limit``) at a time."""
        cursor: str | None = None
        while True:
            page = await self.list_sessions(cursor=cursor, timeout=timeout, **filters)
            for item in page.items:
                yield item
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def update_session(
        self,
        session_id: str,
        *,
        title: str | NotGiven | None = NOT_GIVEN,
        name: str | NotGiven | None = NOT_GIVEN,
        metadata: Json | NotGiven | None = NOT_GIVEN,
        ttl_seconds: int | NotGiven | None = NOT_GIVEN,
        status: SessionStatus | str | NotGiven | None = NOT_GIVEN,
        if_version: int | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> Session:
        """Change the given fields (``None`` clears one); ``if_version`` guards with If-Match."""
        call = self._build_update_session(
            session_id,
            title=title,
            name=name,
            metadata=metadata,
            ttl_seconds=ttl_seconds,
            status=status,
            if_version=if_version,
        )
        return await self._call(call, timeout)

    async def delete_session(
        self, session_id: str, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> None:
        """Delete a session with its children, events and files."""
        await self._call(self._build_delete_session(session_id), timeout)

    async def fork_session(
        self,
        session_id: str,
        *,
        at_event_id: str | None = None,
        message_index: int | None = None,
        title: str | None = None,
        name: str | None = None,
        metadata: Json | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> Session:
        """A new session with this one's events and files: up to ``at_event_id``, up to the
        end of message ``message_index`` (kinds with messages), or all of them."""
        call = self._build_fork_session(
            session_id, at_event_id=at_event_id, message_index=message_index, title=title,
            name=name, metadata=metadata,
        )  # fmt: skip
        return await self._call(call, timeout)

    async def rewind_session(
        self,
        session_id: str,
        *,
        to_event_id: str | None = None,
        message_index: int | None = None,
        cleanup_files: bool = False,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> RewindResult:
        """Delete the events after ``to_event_id``, or after the end of message
        ``message_index`` (give one of the two)."""
        call = self._build_rewind_session(
            session_id, to_event_id=to_event_id, message_index=message_index,
            cleanup_files=cleanup_files,
        )  # fmt: skip
        return await self._call(call, timeout)

    async def execute(
        self,
        session_id: str,
        code: str,
        *,
        run_timeout: float | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> Event:
        """Run ``code`` in a kernel session; returns the recorded ``execution`` event.

        ``run_timeout`` (seconds, server default 60) bounds the execution: past it the
        kernel is interrupted and the event's status is ``timeout``. ``timeout`` is the
        HTTP timeout, by default long enough for ``run_timeout``.
        """
        return await self._call(self._build_execute(session_id, code, run_timeout), timeout)

    # -- events ------------------------------------------------------------------

    async def append_event(
        self,
        session_id: str,
        *,
        type: str,
        role: Role | str | None = None,
        payload: Json | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cost: float = 0.0,
        duration_ms: int = 0,
        expected_seq: int | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> Event:
        """Append one event; with ``expected_seq``, SeqMismatch if another came first."""
        call = self._build_append_event(
            session_id,
            type=type,
            role=role,
            payload=payload,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost=cost,
            duration_ms=duration_ms,
            expected_seq=expected_seq,
        )
        return await self._call(call, timeout)

    async def append_events(
        self,
        session_id: str,
        events: Sequence[EventCreate | Mapping[str, Any]],
        *,
        expected_seq: int | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> list[Event]:
        """Append several events in one transaction."""
        return await self._call(
            self._build_append_events(session_id, events, expected_seq), timeout
        )

    async def list_events(
        self,
        session_id: str,
        *,
        after: int = 0,
        limit: int | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> Page[Event]:
        """One page of events with ``seq > after``, oldest first."""
        return await self._call(
            self._build_list_events(session_id, after=after, limit=limit), timeout
        )

    async def iter_events(
        self,
        session_id: str,
        *,
        after: int = 0,
        limit: int | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> AsyncIterator[Event]:
        """Every event with ``seq > after``, one page (of ``limit``) at a time."""
        cursor: int | None = after
        while cursor is not None:
            page = await self.list_events(session_id, after=cursor, limit=limit, timeout=timeout)
            for item in page.items:
                yield item
            cursor = next_after(page)

    async def tail_events(
        self, session_id: str, *, limit: int | None = None, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> list[Event]:
        """The last ``limit`` events, oldest first."""
        return await self._call(self._build_tail_events(session_id, limit=limit), timeout)

    async def get_event(
        self, session_id: str, event_id: str, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> Event:
        return await self._call(self._build_get_event(session_id, event_id), timeout)

    def stream(
        self,
        session_id: str,
        *,
        since: int | None = None,
        last_event_id: str | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> AsyncEventStream:
        """Live events of a session (after ``since`` / ``last_event_id``), over SSE.

        The connection opens on first iteration; close it with ``close()`` or
        use the stream as a context manager. The default read timeout is none.
        """
        request = self._build_stream(session_id, since=since, last_event_id=last_event_id)
        return AsyncEventStream(self, self._with_timeout(request, timeout))

    # -- export / import --------------------------------------------------------

    async def export_session(
        self,
        session_id: str,
        *,
        files: ExportFiles = "none",
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> Json:
        """The export document, parsed (it is held in memory; see :meth:`export_session_to`)."""
        return await self._call(self._build_export(session_id, files=files), timeout)

    async def export_session_to(
        self,
        session_id: str,
        file: IO[bytes],
        *,
        files: ExportFiles = "none",
        progress: ProgressCallback | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> int:
        """Stream the JSON export into a binary file; returns the bytes written."""
        request = self._build_export(session_id, files=files).request
        return await self._download(request, file, progress, timeout)

    async def download_export_tar(
        self,
        session_id: str,
        file: IO[bytes],
        *,
        progress: ProgressCallback | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> int:
        """Stream the ``.tar.gz`` export into a binary file; returns the bytes written."""
        return await self._download(self._build_export_tar(session_id), file, progress, timeout)

    async def import_session(
        self,
        source: FileSource | Mapping[str, Any],
        *,
        keep_ids: bool = False,
        progress: ProgressCallback | None = None,
        server_progress: ServerProgress | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> Session:
        """Import an export: a parsed document, or a JSON / tar.gz file streamed from disk.

        ``progress`` follows the upload's bytes; ``server_progress`` the events the
        server has stored, as it stores them."""
        if isinstance(source, Mapping):
            return await self._call(self._build_import_json(source, keep_ids=keep_ids), timeout)
        async with _open_source(source) as file:
            total = await anyio.to_thread.run_sync(source_length, file.wrapped)
            head = await file.read(2)
            call = self._build_import(
                keep_ids=keep_ids,
                content=_chunks(file, head, total, progress),
                content_type=sniff_content_type(head),
                length=total,
                with_progress=server_progress is not None,
            )
            if server_progress is None:
                return await self._call(call, timeout)
            return await self._import_with_progress(call, server_progress, timeout)

    async def _import_with_progress(
        self, call: Call[Session], progress: ServerProgress, timeout: Timeout
    ) -> Session:
        response = await self._send(call.request, timeout, stream=True)
        try:
            with map_transport_errors(call.request.url):
                if not answers_with_progress(response):
                    await response.aread()
                    return self._parse(call, response)
                feed = ImportFeed(progress)
                async for line in response.aiter_lines():
                    feed.line(line)
                return feed.end()
        finally:
            await response.aclose()

    # -- runs --------------------------------------------------------------------

    async def start_run(
        self, session_id: str, *, input: Json | None = None, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> Run:
        """Start a driver run; RunActive if one is in flight."""
        return await self._call(self._build_start_run(session_id, input=input), timeout)

    async def cancel(
        self, session_id: str, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> CancelResult:
        """Cancel the session's active run, if any."""
        return await self._call(self._build_cancel(session_id), timeout)

    async def extend_timeout(
        self, session_id: str, *, add_seconds: float, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> Session:
        """Move a machine session's lease deadline ``add_seconds`` later."""
        call = self._build_extend_timeout(session_id, add_seconds=add_seconds)
        return await self._call(call, timeout)

    # -- files -------------------------------------------------------------------

    async def list_files(
        self, session_id: str, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> list[FileInfo]:
        return await self._call(self._build_list_files(session_id), timeout)

    async def upload_file(
        self,
        session_id: str,
        path: str,
        data: bytes | None = None,
        *,
        file: FileSource | None = None,
        progress: ProgressCallback | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> FileInfo:
        """Write ``data``, or stream ``file`` (a path or a binary file), to ``path``."""
        if (data is None) == (file is None):
            raise TypeError("upload_file() takes exactly one of data= or file=")
        if data is not None:
            call = self._build_upload_file(session_id, path, content=data, length=len(data))
            return await self._call(call, timeout)
        assert file is not None
        async with _open_source(file) as handle:
            total = await anyio.to_thread.run_sync(source_length, handle.wrapped)
            content = _chunks(handle, b"", total, progress)
            call = self._build_upload_file(session_id, path, content=content, length=total)
            return await self._call(call, timeout)

    async def download_file(
        self, session_id: str, path: str, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> bytes:
        return await self._call(self._build_download_file(session_id, path), timeout)

    async def delete_file(
        self, session_id: str, path: str, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> None:
        await self._call(self._build_delete_file(session_id, path), timeout)

    # -- keys and health -----------------------------------------------------------

    async def list_keys(self, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> list[ApiKey]:
        return await self._call(self._build_list_keys(), timeout)

    async def create_key(
        self, *, name: str = "key", admin: bool = False, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> ApiKeyCreated:
        """Create an API key; its secret is in ``.key`` and is shown only this once."""
        return await self._call(self._build_create_key(name=name, admin=admin), timeout)

    async def revoke_key(self, key_id: str, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> None:
        await self._call(self._build_revoke_key(key_id), timeout)

    async def health(self, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> Json:
        return await self._call(self._build_health(), timeout)


class AsyncEventStream:
    """An async iterator of :class:`Event` read from a session's SSE stream."""

    def __init__(self, client: AsyncClient, request: httpx.Request) -> None:
        self._client = client
        self._request = request
        self._reader = EventReader()
        self._events: AsyncGenerator[Event, None] | None = None

    @property
    def last_event_id(self) -> str | None:
        """The id of the last event received: pass it back to resume."""
        return self._reader.last_event_id

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        if self._events is None:
            self._events = self._read()
        return await anext(self._events)

    async def _read(self) -> AsyncGenerator[Event, None]:
        response = await self._client._send(self._request, USE_CLIENT_DEFAULT, stream=True)
        try:
            with map_transport_errors(self._request.url):
                async for event in self._reader.aevents(response):
                    yield event
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        if self._events is not None:
            await self._events.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.aclose()
