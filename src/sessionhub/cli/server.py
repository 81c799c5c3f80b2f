"""``sessionhub serve``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sessionhub.cli.errors import load_settings, reported


def serve(
    host: Annotated[
        str | None, typer.Option(help="Bind address.", envvar="SESSIONHUB_HOST")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port.", envvar="SESSIONHUB_PORT")] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="SQLite file and session files.", envvar="SESSIONHUB_DATA_DIR"),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="sqlite:///… or postgresql://….", envvar="SESSIONHUB_DATABASE_URL"),
    ] = None,
    no_auth: Annotated[
        bool,
        typer.Option("--no-auth", help="No API keys; loopback only.", envvar="SESSIONHUB_NO_AUTH"),
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(help="Processes (PostgreSQL only).", envvar="SESSIONHUB_WORKERS"),
    ] = None,
    root_dialect: Annotated[
        str | None,
        typer.Option(help="Also mount this dialect at /.", envvar="SESSIONHUB_ROOT_DIALECT"),
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option(help="Log level: DEBUG, INFO, WARNING, ERROR.", envvar="SESSIONHUB_LOG_LEVEL"),
    ] = None,
    log_format: Annotated[
        str | None, typer.Option(help="json or text.", envvar="SESSIONHUB_LOG_FORMAT")
    ] = None,
    kernel_pool_size: Annotated[
        int | None,
        typer.Option(
            help="Warm kernels per pooled kernelspec.", envvar="SESSIONHUB_KERNEL_POOL_SIZE"
        ),
    ] = None,
    kernel_pool_kernelspecs: Annotated[
        str | None,
        typer.Option(
            help="Kernelspecs to pool, comma-separated.",
            envvar="SESSIONHUB_KERNEL_POOL_KERNELSPECS",
        ),
    ] = None,
    ssl_certfile: Annotated[
        Path | None,
        typer.Option(help="TLS certificate (PEM): serve HTTPS.", envvar="SESSIONHUB_SSL_CERTFILE"),
    ] = None,
    ssl_keyfile: Annotated[
        Path | None,
        typer.Option(help="TLS private key (PEM).", envvar="SESSIONHUB_SSL_KEYFILE"),
    ] = None,
    agent_base_url: Annotated[
        str | None,
        typer.Option(
            help="OpenAI-compatible base URL for agents.", envvar="SESSIONHUB_AGENT_BASE_URL"
        ),
    ] = None,
    agent_model: Annotated[
        str | None, typer.Option(help="Model agents ask for.", envvar="SESSIONHUB_AGENT_MODEL")
    ] = None,
    agent_api_key: Annotated[
        str | None,
        typer.Option(help="API key for the agent provider.", envvar="SESSIONHUB_AGENT_API_KEY"),
    ] = None,
) -> None:
    """Run the server."""
    from sessionhub import serving

    settings = load_settings(
        host=host, port=port, data_dir=data_dir, database_url=database_url,
        no_auth=no_auth, log_level=log_level, log_format=log_format, root_dialect=root_dialect,
        workers=workers, kernel_pool_size=kernel_pool_size,
        kernel_pool_kernelspecs=kernel_pool_kernelspecs, agent_base_url=agent_base_url,
        agent_model=agent_model, agent_api_key=agent_api_key,
        ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile,
    )  # fmt: skip
    with reported():
        serving.serve(settings)
