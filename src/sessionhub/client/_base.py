"""What the sync and async clients share: configuration, request building, parsing.

Every endpoint is described once here as a :class:`Call` (the request to send
and how to read its answer). ``Client`` and ``AsyncClient`` only send it.
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from sessionhub.client._exceptions import (
    ClientClosed,
    ClientError,
    ProtocolError,
    error_from_response,
)
from sessionhub.client._types import (
    NOT_GIVEN,
    ExportFiles,
    NotGiven,
    SessionFilters,
    TimeoutTypes,
    UseClientDefault,
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
M = TypeVar("M", bound=BaseModel)

DEFAULT_BASE_URL = "http://127.0.0.1:8700"
DEFAULT_TIMEOUT = httpx.Timeout(30.0)
USER_AGENT = "sessionhub-python"


class ClientState(enum.Enum):
    UNOPENED = 1  # built, not yet used
    OPENED = 2  # entered as a context manager, or has sent a request
    CLOSED = 3  # closed, by ``close()`` or on leaving the ``with`` block


@dataclass(frozen=True)
class Call(Generic[T]):
    """One endpoint call: the request, and how to turn a 2xx answer into ``T``."""

    request: httpx.Request
    parse: Callable[[httpx.Response], T]


def _model(model: type[M]) -> Callable[[httpx.Response], M]:
    def parse(response: httpx.Response) -> M:
        try:
            # Ignore members this client does not know, so a newer server works.
            return model.model_validate_json(response.content, extra="ignore")
        except ValidationError as exc:
            raise ProtocolError(f"unexpected {model.__name__} from the server: {exc}") from exc

    return parse


_EVENT_LIST = TypeAdapter(list[Event])
_FILE_LIST = TypeAdapter(list[FileInfo])
_KEY_LIST = TypeAdapter(list[ApiKey])


def _items(adapter: TypeAdapter[list[T]]) -> Callable[[httpx.Response], list[T]]:
    """Parse a ``{"items": [...]}`` answer into its list (a bare list is accepted too)."""

    def parse(response: httpx.Response) -> list[T]:
        body = _json(response)
        if isinstance(body, dict) and "items" in body:
            body = body["items"]
        if not isinstance(body, list):
            raise ProtocolError("expected a list, or an object with 'items', from the server")
        try:
            return adapter.validate_python(body, extra="ignore")
        except ValidationError as exc:
            raise ProtocolError(f"unexpected items from the server: {exc}") from exc

    return parse


def _json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError as exc:
        raise ProtocolError(f"the server did not answer JSON: {exc}") from exc


def _json_object(response: httpx.Response) -> Json:
    body = _json(response)
    if not isinstance(body, dict):
        raise ProtocolError("expected a JSON object from the server")
    return body


def _nothing(response: httpx.Response) -> None:
    return None


def _segment(value: str) -> str:
    """One URL path segment; ``.`` and ``..`` stay literal instead of being resolved."""
    if not value:
        raise ValueError("an id or path segment must not be empty")
    if value in (".", ".."):
        return value.replace(".", "%2E")
    return quote(value, safe="")


def _file_path(path: str) -> str:
    return "/".join(_segment(part) for part in path.split("/"))


def _compact(**fields: Any) -> Json:
    """The fields that were given: drops ``None`` and :data:`NOT_GIVEN`."""
    return {k: v for k, v in fields.items() if v is not None and v is not NOT_GIVEN}


def _given(**fields: Any) -> Json:
    """The fields that were given, keeping ``None`` (it clears in a partial update)."""
    return {k: v for k, v in fields.items() if v is not NOT_GIVEN}


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


def session_params(filters: SessionFilters, cursor: str | None) -> tuple[tuple[str, str], ...]:
    params: list[tuple[str, str]] = []
    for name, value in filters.items():
        if value is None:
            continue
        if name == "metadata":
            assert isinstance(value, Mapping)
            params.extend(("metadata", f"{k}:{v}") for k, v in value.items())
        else:
            params.append((name, _query_value(value)))
    if cursor is not None:
        params.append(("cursor", cursor))
    return tuple(params)


def event_dict(event: EventCreate | Mapping[str, Any]) -> Json:
    if isinstance(event, EventCreate):
        return event.model_dump(mode="json", exclude_unset=True)
    return dict(event)


def sniff_content_type(head: bytes) -> str:
    """An import body is an export tarball when it starts with the gzip magic."""
    return "application/gzip" if head.startswith(b"\x1f\x8b") else "application/json"


class BaseClient:
    """Configuration and per-endpoint request building, shared by both clients."""

    def __init__(
        self,
        *,
        base_url: str | httpx.URL = DEFAULT_BASE_URL,
        api_key: str | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        url = httpx.URL(base_url)
        if not url.raw_path.endswith(b"/"):
            url = url.copy_with(raw_path=url.raw_path + b"/")
        self._base_url = url
        self._timeout = httpx.Timeout(timeout)
        self._headers = httpx.Headers({"Accept": "application/json", "User-Agent": USER_AGENT})
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._headers.update(headers or {})
        self._state = ClientState.UNOPENED

    @property
    def base_url(self) -> httpx.URL:
        return self._base_url

    @property
    def timeout(self) -> httpx.Timeout:
        return self._timeout

    @property
    def is_closed(self) -> bool:
        return self._state is ClientState.CLOSED

    # -- plumbing ---------------------------------------------------------

    def _check_open(self) -> None:
        if self._state is ClientState.CLOSED:
            raise ClientClosed("Cannot send a request, as the client has been closed.")
        self._state = ClientState.OPENED

    def _enter(self) -> None:
        if self._state is ClientState.OPENED:
            raise ClientError("Cannot open a client instance more than once.")
        if self._state is ClientState.CLOSED:
            raise ClientClosed("Cannot reopen a client instance, once it has been closed.")
        self._state = ClientState.OPENED

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: tuple[tuple[str, str], ...] | Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | Iterable[bytes] | Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Request:
        url = self._base_url.copy_with(raw_path=self._base_url.raw_path + path.encode("ascii"))
        merged = httpx.Headers(self._headers)
        merged.update(headers or {})
        request = httpx.Request(
            method, url, params=params, json=json, content=content, headers=merged
        )
        request.extensions["timeout"] = self._timeout.as_dict()
        return request

    def _with_timeout(
        self, request: httpx.Request, timeout: TimeoutTypes | UseClientDefault
    ) -> httpx.Request:
        """Apply a per-call timeout; the default was set when the request was built."""
        if not isinstance(timeout, UseClientDefault):
            request.extensions["timeout"] = httpx.Timeout(timeout).as_dict()
        return request

    @staticmethod
    def _parse(call: Call[T], response: httpx.Response) -> T:
        """Raise the mapped domain error for 4xx/5xx, else parse (body already read)."""
        if response.is_error:
            raise error_from_response(response)
        return call.parse(response)

    @staticmethod
    def _sessions(*parts: str) -> str:
        return "/".join(["v1/sessions", *(_segment(p) for p in parts)])

    # -- sessions -----------------------------------------------------------

    def _build_create_session(
        self,
        *,
        kind: str,
        name: str | None,
        title: str | None,
        parent_id: str | None,
        attributes: Json | None,
        metadata: Json | None,
        ttl_seconds: int | None,
        idempotency_key: str | None,
    ) -> Call[Session]:
        body = _compact(
            kind=kind,
            name=name,
            title=title,
            parent_id=parent_id,
            attributes=attributes,
            metadata=metadata,
            ttl_seconds=ttl_seconds,
        )
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return Call(
            self._request("POST", "v1/sessions", json=body, headers=headers), _model(Session)
        )

    def _build_get_session(self, session_id: str) -> Call[Session]:
        return Call(self._request("GET", self._sessions(session_id)), _model(Session))

    def _build_list_sessions(
        self, filters: SessionFilters, cursor: str | None
    ) -> Call[Page[Session]]:
        request = self._request("GET", "v1/sessions", params=session_params(filters, cursor))
        return Call(request, _model(Page[Session]))

    def _build_update_session(
        self,
        session_id: str,
        *,
        title: str | NotGiven | None,
        name: str | NotGiven | None,
        metadata: Json | NotGiven | None,
        ttl_seconds: int | NotGiven | None,
        status: SessionStatus | str | NotGiven | None,
        if_version: int | None,
    ) -> Call[Session]:
        body = _given(
            title=title, name=name, metadata=metadata, ttl_seconds=ttl_seconds, status=status
        )
        headers = {"If-Match": str(if_version)} if if_version is not None else None
        request = self._request("PATCH", self._sessions(session_id), json=body, headers=headers)
        return Call(request, _model(Session))

    def _build_delete_session(self, session_id: str) -> Call[None]:
        return Call(self._request("DELETE", self._sessions(session_id)), _nothing)

    def _build_fork_session(
        self,
        session_id: str,
        *,
        at_event_id: str | None,
        message_index: int | None,
        title: str | None,
        name: str | None,
        metadata: Json | None,
    ) -> Call[Session]:
        body = _compact(
            at_event_id=at_event_id, message_index=message_index, title=title, name=name,
            metadata=metadata,
        )  # fmt: skip
        request = self._request("POST", self._sessions(session_id, "fork"), json=body)
        return Call(request, _model(Session))

    def _build_rewind_session(
        self,
        session_id: str,
        *,
        to_event_id: str | None,
        message_index: int | None,
        cleanup_files: bool,
    ) -> Call[RewindResult]:
        body = {
            **_compact(to_event_id=to_event_id, message_index=message_index),
            "cleanup_files": cleanup_files,
        }
        request = self._request("POST", self._sessions(session_id, "rewind"), json=body)
        return Call(request, _model(RewindResult))

    def _build_execute(self, session_id: str, code: str, run_timeout: float | None) -> Call[Event]:
        body = _compact(code=code, timeout=run_timeout)
        request = self._request("POST", self._sessions(session_id, "execute"), json=body)
        # The answer comes when the code has run: wait that long (server default 60 s).
        limits = self._timeout.as_dict()
        read = limits.get("read")
        if read is not None:
            limits["read"] = max(read, (run_timeout or 60.0) + 15.0)
        request.extensions["timeout"] = limits
        return Call(request, _model(Event))

    # -- events -------------------------------------------------------------

    def _build_append_event(
        self,
        session_id: str,
        *,
        type: str,
        role: Role | str | None,
        payload: Json | None,
        input_tokens: int,
        output_tokens: int,
        cost: float,
        duration_ms: int,
        expected_seq: int | None,
    ) -> Call[Event]:
        body = _compact(type=type, role=role, payload=payload, expected_seq=expected_seq)
        usage = {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cost": cost,
            "duration_ms": duration_ms,
        }
        body.update({k: v for k, v in usage.items() if v})
        request = self._request("POST", self._sessions(session_id, "events"), json=body)
        return Call(request, _model(Event))

    def _build_append_events(
        self,
        session_id: str,
        events: Sequence[EventCreate | Mapping[str, Any]],
        expected_seq: int | None,
    ) -> Call[list[Event]]:
        body = _compact(events=[event_dict(e) for e in events], expected_seq=expected_seq)
        request = self._request("POST", self._sessions(session_id, "events", "batch"), json=body)
        return Call(request, _items(_EVENT_LIST))

    def _build_list_events(
        self, session_id: str, *, after: int, limit: int | None
    ) -> Call[Page[Event]]:
        params = _compact(after=str(after), limit=None if limit is None else str(limit))
        request = self._request("GET", self._sessions(session_id, "events"), params=params)
        return Call(request, _model(Page[Event]))

    def _build_tail_events(self, session_id: str, *, limit: int | None) -> Call[list[Event]]:
        params = _compact(limit=None if limit is None else str(limit))
        request = self._request("GET", self._sessions(session_id, "events", "tail"), params=params)
        return Call(request, _items(_EVENT_LIST))

    def _build_get_event(self, session_id: str, event_id: str) -> Call[Event]:
        request = self._request("GET", self._sessions(session_id, "events", event_id))
        return Call(request, _model(Event))

    def _build_stream(
        self, session_id: str, *, since: int | None, last_event_id: str | None
    ) -> httpx.Request:
        params = _compact(since=None if since is None else str(since))
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        request = self._request(
            "GET", self._sessions(session_id, "stream"), params=params, headers=headers
        )
        # A live stream is quiet between events; only heartbeats keep it busy.
        request.extensions["timeout"] = self._timeout.as_dict() | {"read": None}
        return request

    # -- export / import ----------------------------------------------------

    def _build_export(self, session_id: str, *, files: ExportFiles) -> Call[Json]:
        request = self._request(
            "GET", self._sessions(session_id, "export"), params={"files": files}
        )
        return Call(request, _json_object)

    def _build_export_tar(self, session_id: str) -> httpx.Request:
        request = self._request("GET", self._sessions(session_id, "export.tar.gz"))
        request.headers["Accept"] = "application/gzip"
        return request

    def _build_import(
        self,
        *,
        keep_ids: bool,
        content: Any,
        content_type: str,
        length: int | None,
        with_progress: bool = False,
    ) -> Call[Session]:
        headers = {"Content-Type": content_type}
        if with_progress:  # the server's progress as JSON lines (an older one answers JSON)
            headers["Accept"] = "application/x-ndjson, application/json"
        if length is not None:
            headers["Content-Length"] = str(length)
        params = {"keep_ids": _query_value(keep_ids)}
        request = self._request(
            "POST", "v1/sessions/import", params=params, content=content, headers=headers
        )
        return Call(request, _model(Session))

    def _build_import_json(self, document: Mapping[str, Any], *, keep_ids: bool) -> Call[Session]:
        request = self._request(
            "POST",
            "v1/sessions/import",
            params={"keep_ids": _query_value(keep_ids)},
            json=dict(document),
        )
        return Call(request, _model(Session))

    # -- runs -----------------------------------------------------------------

    def _build_start_run(self, session_id: str, *, input: Json | None) -> Call[Run]:
        request = self._request(
            "POST", self._sessions(session_id, "runs"), json={"input": input or {}}
        )
        return Call(request, _model(Run))

    def _build_cancel(self, session_id: str) -> Call[CancelResult]:
        return Call(
            self._request("POST", self._sessions(session_id, "cancel")), _model(CancelResult)
        )

    def _build_extend_timeout(self, session_id: str, *, add_seconds: float) -> Call[Session]:
        body = {"add_seconds": add_seconds}
        request = self._request("POST", self._sessions(session_id, "timeout"), json=body)
        return Call(request, _model(Session))

    # -- files ----------------------------------------------------------------

    def _files(self, session_id: str, path: str | None = None) -> str:
        base = self._sessions(session_id, "files")
        return base if path is None else f"{base}/{_file_path(path)}"

    def _build_list_files(self, session_id: str) -> Call[list[FileInfo]]:
        return Call(self._request("GET", self._files(session_id)), _items(_FILE_LIST))

    def _build_upload_file(
        self, session_id: str, path: str, *, content: Any, length: int | None
    ) -> Call[FileInfo]:
        headers = {"Content-Type": "application/octet-stream"}
        if length is not None:
            headers["Content-Length"] = str(length)
        request = self._request(
            "PUT", self._files(session_id, path), content=content, headers=headers
        )
        return Call(request, _model(FileInfo))

    def _build_download_file(self, session_id: str, path: str) -> Call[bytes]:
        request = self._request("GET", self._files(session_id, path))
        request.headers["Accept"] = "*/*"
        return Call(request, lambda response: response.content)

    def _build_delete_file(self, session_id: str, path: str) -> Call[None]:
        return Call(self._request("DELETE", self._files(session_id, path)), _nothing)

    # -- keys and health ------------------------------------------------------

    def _build_list_keys(self) -> Call[list[ApiKey]]:
        return Call(self._request("GET", "v1/keys"), _items(_KEY_LIST))

    def _build_create_key(self, *, name: str, admin: bool) -> Call[ApiKeyCreated]:
        request = self._request("POST", "v1/keys", json={"name": name, "admin": admin})
        return Call(request, _model(ApiKeyCreated))

    def _build_revoke_key(self, key_id: str) -> Call[None]:
        return Call(self._request("DELETE", f"v1/keys/{_segment(key_id)}"), _nothing)

    def _build_health(self) -> Call[Json]:
        return Call(self._request("GET", "healthz"), _json_object)


def next_after(page: Page[Event]) -> int | None:
    """The ``after`` of the next events page (its cursor is a seq), or ``None`` at the end."""
    if page.next_cursor is None:
        return None
    try:
        return int(page.next_cursor)
    except ValueError as exc:
        raise ProtocolError(f"events cursor is not a seq: {page.next_cursor!r}") from exc


def parse_sse_event(data: str) -> Event:
    try:
        return Event.model_validate_json(data, extra="ignore")
    except ValidationError as exc:
        raise ProtocolError(f"unexpected event on the stream: {exc}") from exc


CHUNK_SIZE = 64 * 1024


def source_length(file: IO[bytes]) -> int | None:
    """How many bytes are left to read in ``file``, when it can tell."""
    try:
        if not file.seekable():
            return None
        here = file.tell()
        end = file.seek(0, os.SEEK_END)
        file.seek(here)
    except (OSError, ValueError):
        return None
    return end - here


def content_length(response: httpx.Response) -> int | None:
    """The body size to report progress against, if the bytes we count match it."""
    if "Content-Encoding" in response.headers:
        return None  # the length counts encoded bytes, iter_bytes yields decoded ones
    value = response.headers.get("Content-Length", "")
    return int(value) if value.isascii() and value.isdigit() else None
