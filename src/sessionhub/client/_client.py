"""The synchronous client: ``BaseClient``'s calls sent over an ``httpx.Client``."""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import IO, Any, Self, TypeVar

import httpx
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


@contextmanager
def _open_source(source: FileSource) -> Iterator[IO[bytes]]:
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as file:
            yield file
    else:
        yield source


def _chunks(
    file: IO[bytes], head: bytes, total: int | None, progress: ProgressCallback | None
) -> Iterator[bytes]:
    done = 0
    chunk = head or file.read(CHUNK_SIZE)
    while chunk:
        yield chunk
        done += len(chunk)
        if progress is not None:
            progress(done, total)
        chunk = file.read(CHUNK_SIZE)


class Client(BaseClient):
    """A synchronous sessionhub client.

    Use it as a context manager, or call :meth:`close` when done::

        with sessionhub.Client(base_url="http://127.0.0.1:8700", api_key=key) as client:
            session = client.create_session(kind="agent", title="hello")

    ``transport`` takes any ``httpx.BaseTransport`` (``httpx.MockTransport`` in
    tests). Every method takes ``timeout=`` to override the client's default.
    """

    def __init__(
        self,
        *,
        base_url: str | httpx.URL = DEFAULT_BASE_URL,
        api_key: str | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url=base_url, api_key=api_key, timeout=timeout, headers=headers)
        self._http = httpx.Client(transport=transport)

    # -- lifecycle -------------------------------------------------------------

    def close(self) -> None:
        if self._state is not ClientState.CLOSED:
            self._state = ClientState.CLOSED
            self._http.close()

    def __enter__(self) -> Self:
        self._enter()
        self._http.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self._state = ClientState.CLOSED
        self._http.__exit__(exc_type, exc_value, traceback)

    # -- I/O -------------------------------------------------------------------

    def _send(
        self, request: httpx.Request, timeout: Timeout, *, stream: bool = False
    ) -> httpx.Response:
        """Send; for ``stream=True`` the caller must close the response."""
        self._check_open()
        self._with_timeout(request, timeout)
        with map_transport_errors(request.url):
            response = self._http.send(request, stream=stream)
        if stream and response.is_error:
            try:
                with map_transport_errors(request.url):
                    response.read()
            finally:
                response.close()
            raise error_from_response(response)
        return response

    def _call(self, call: Call[T], timeout: Timeout) -> T:
        return self._parse(call, self._send(call.request, timeout))

    def _download(
        self,
        request: httpx.Request,
        file: IO[bytes],
        progress: ProgressCallback | None,
        timeout: Timeout,
    ) -> int:
        response = self._send(request, timeout, stream=True)
        total, done = content_length(response), 0
        try:
            with map_transport_errors(request.url):
                for chunk in response.iter_bytes():
                    file.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
        finally:
            response.close()
        return done

    # -- sessions ----------------------------------------------------------------

    def create_session(
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
        return self._call(call, timeout)

    def get_session(self, session_id: str, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> Session:
        return self._call(self._build_get_session(session_id), timeout)

    def list_sessions(
        self,
        *,
        cursor: str | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
        **filters: Unpack[SessionFilters],
    ) -> Page[Session]:
        """One page of sessions, newest first; pass ``next_cursor`` back as ``cursor``."""
        return self._call(self._build_list_sessions(filters, cursor), timeout)

    def iter_sessions(
        self, *, timeout: Timeout = USE_CLIENT_DEFAULT, **filters: Unpack[SessionFilters]
    ) -> Iterator[Session]:
        """Every matching session, fetching one page (of ``limit``) at a time."""
        cursor: str | None = None
        while True:
            page = self.list_sessions(cursor=cursor, timeout=timeout, **filters)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def update_session(
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
        return self._call(call, timeout)

    def delete_session(self, session_id: str, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> None:
        """Delete a session with its children, events and files."""
        self._call(self._build_delete_session(session_id), timeout)

    def fork_session(
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
        return self._call(call, timeout)

    def rewind_session(
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
        return self._call(call, timeout)

    def execute(
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
        return self._call(self._build_execute(session_id, code, run_timeout), timeout)

    # -- events ------------------------------------------------------------------

    def append_event(
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
        return self._call(call, timeout)

    def append_events(
        self,
        session_id: str,
        events: Sequence[EventCreate | Mapping[str, Any]],
        *,
        expected_seq: int | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> list[Event]:
        """Append several events in one transaction."""
        return self._call(self._build_append_events(session_id, events, expected_seq), timeout)

    def list_events(
        self,
        session_id: str,
        *,
        after: int = 0,
        limit: int | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> Page[Event]:
        """One page of events with ``seq > after``, oldest first."""
        return self._call(self._build_list_events(session_id, after=after, limit=limit), timeout)

    def iter_events(
        self,
        session_id: str,
        *,
        after: int = 0,
        limit: int | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> Iterator[Event]:
        """Every event with ``seq > after``, one page (of ``limit``) at a time."""
        cursor: int | None = after
        while cursor is not None:
            page = self.list_events(session_id, after=cursor, limit=limit, timeout=timeout)
            yield from page.items
            cursor = next_after(page)

    def tail_events(
        self, session_id: str, *, limit: int | None = None, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> list[Event]:
        """The last ``limit`` events, oldest first."""
        return self._call(self._build_tail_events(session_id, limit=limit), timeout)

    def get_event(
        self, session_id: str, event_id: str, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> Event:
        return self._call(self._build_get_event(session_id, event_id), timeout)

    def stream(
        self,
        session_id: str,
        *,
        since: int | None = None,
        last_event_id: str | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> EventStream:
        """Live events of a session (after ``since`` / ``last_event_id``), over SSE.

        The connection opens on first iteration; close it with ``close()`` or
        use the stream as a context manager. The default read timeout is none.
        """
        request = self._build_stream(session_id, since=since, last_event_id=last_event_id)
        return EventStream(self, self._with_timeout(request, timeout))

    # -- export / import --------------------------------------------------------

    def export_session(
        self,
        session_id: str,
        *,
        files: ExportFiles = "none",
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> Json:
        """The export document, parsed (it is held in memory; see :meth:`export_session_to`)."""
        return self._call(self._build_export(session_id, files=files), timeout)

    def export_session_to(
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
        return self._download(request, file, progress, timeout)

    def download_export_tar(
        self,
        session_id: str,
        file: IO[bytes],
        *,
        progress: ProgressCallback | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> int:
        """Stream the ``.tar.gz`` export into a binary file; returns the bytes written."""
        return self._download(self._build_export_tar(session_id), file, progress, timeout)

    def import_session(
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
            return self._call(self._build_import_json(source, keep_ids=keep_ids), timeout)
        with _open_source(source) as file:
            total = source_length(file)
            head = file.read(2)
            call = self._build_import(
                keep_ids=keep_ids,
                content=_chunks(file, head, total, progress),
                content_type=sniff_content_type(head),
                length=total,
                with_progress=server_progress is not None,
            )
            if server_progress is None:
                return self._call(call, timeout)
            return self._import_with_progress(call, server_progress, timeout)

    def _import_with_progress(
        self, call: Call[Session], progress: ServerProgress, timeout: Timeout
    ) -> Session:
        response = self._send(call.request, timeout, stream=True)
        try:
            with map_transport_errors(call.request.url):
                if not answers_with_progress(response):
                    response.read()
                    return self._parse(call, response)
                feed = ImportFeed(progress)
                for line in response.iter_lines():
                    feed.line(line)
                return feed.end()
        finally:
            response.close()

    # -- runs --------------------------------------------------------------------

    def start_run(
        self, session_id: str, *, input: Json | None = None, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> Run:
        """Start a driver run; RunActive if one is in flight."""
        return self._call(self._build_start_run(session_id, input=input), timeout)

    def cancel(self, session_id: str, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> CancelResult:
        """Cancel the session's active run, if any."""
        return self._call(self._build_cancel(session_id), timeout)

    def extend_timeout(
        self, session_id: str, *, add_seconds: float, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> Session:
        """Move a machine session's lease deadline ``add_seconds`` later."""
        return self._call(self._build_extend_timeout(session_id, add_seconds=add_seconds), timeout)

    # -- files -------------------------------------------------------------------

    def list_files(
        self, session_id: str, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> list[FileInfo]:
        return self._call(self._build_list_files(session_id), timeout)

    def upload_file(
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
            return self._call(call, timeout)
        assert file is not None
        with _open_source(file) as handle:
            total = source_length(handle)
            content = _chunks(handle, b"", total, progress)
            call = self._build_upload_file(session_id, path, content=content, length=total)
            return self._call(call, timeout)

    def download_file(
        self, session_id: str, path: str, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> bytes:
        return self._call(self._build_download_file(session_id, path), timeout)

    def delete_file(
        self, session_id: str, path: str, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> None:
        self._call(self._build_delete_file(session_id, path), timeout)

    # -- keys and health -----------------------------------------------------------

    def list_keys(self, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> list[ApiKey]:
        return self._call(self._build_list_keys(), timeout)

    def create_key(
        self, *, name: str = "key", admin: bool = False, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> ApiKeyCreated:
        """Create an API key; its secret is in ``.key`` and is shown only this once."""
        return self._call(self._build_create_key(name=name, admin=admin), timeout)

    def revoke_key(self, key_id: str, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> None:
        self._call(self._build_revoke_key(key_id), timeout)

    def health(self, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> Json:
        return self._call(self._build_health(), timeout)


class EventStream:
    """An iterator of :class:`Event` read from a session's SSE stream."""

    def __init__(self, client: Client, request: httpx.Request) -> None:
        self._client = client
        self._request = request
        self._reader = EventReader()
        self._events: Generator[Event, None, None] | None = None

    @property
    def last_event_id(self) -> str | None:
        """The id of the last event received: pass it back to resume."""
        return self._reader.last_event_id

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> Event:
        if self._events is None:
            self._events = self._read()
        return next(self._events)

    def _read(self) -> Generator[Event, None, None]:
        response = self._client._send(self._request, USE_CLIENT_DEFAULT, stream=True)
        try:
            with map_transport_errors(self._request.url):
                yield from self._reader.events(response)
        finally:
            response.close()

    def close(self) -> None:
        if self._events is not None:
            self._events.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self.close()
