"""Property-based requests over the whole OpenAPI document: no input may cause a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from sessionhub.api.app import create_app
from sessionhub.config import Settings
from sessionhub.testing.fixtures import LiveServer

schema = schemathesis.openapi.from_dict(create_app(Settings(no_auth=True)).openapi())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data: Path = tmp_path_factory.mktemp("schemathesis")
    app_settings = Settings(
        data_dir=data, database_url=f"sqlite:///{data / 'db.sqlite'}", no_auth=True,
        max_file_bytes=64 * 1024,
    )  # fmt: skip
    with LiveServer(create_app(app_settings)) as live:
        yield live


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case, server: LiveServer) -> None:
    case.call_and_validate(base_url=server.url, checks=[not_a_server_error])


@schemathesis.serializer("application/gzip", "application/octet-stream", "application/x-protobuf")
def raw_bytes(ctx: schemathesis.SerializationContext, value: object) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()
