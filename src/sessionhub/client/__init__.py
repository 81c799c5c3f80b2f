"""The sessionhub Python SDK: ``Client`` and ``AsyncClient`` over httpx."""

from sessionhub.client._async import AsyncClient, AsyncEventStream
from sessionhub.client._base import DEFAULT_BASE_URL, ClientState
from sessionhub.client._client import Client, EventStream
from sessionhub.client._exceptions import ClientClosed, ClientError, ProtocolError, TransportError
from sessionhub.client._types import (
    NOT_GIVEN,
    USE_CLIENT_DEFAULT,
    NotGiven,
    ProgressCallback,
    SessionFilters,
    UseClientDefault,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "NOT_GIVEN",
    "USE_CLIENT_DEFAULT",
    "AsyncClient",
    "AsyncEventStream",
    "Client",
    "ClientClosed",
    "ClientError",
    "ClientState",
    "EventStream",
    "NotGiven",
    "ProgressCallback",
    "ProtocolError",
    "SessionFilters",
    "TransportError",
    "UseClientDefault",
]
