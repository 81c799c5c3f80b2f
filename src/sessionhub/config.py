"""Settings, read from ``SESSIONHUB_*`` environment variables and CLI flags."""

from __future__ import annotations

import ipaddress
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024
DATABASE_SCHEMES = ("sqlite:///", "postgresql://")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SESSIONHUB_", extra="ignore")

    data_dir: Path = Field(default=Path(".sessionhub"), description="Where SQLite and files live.")
    database_url: str | None = Field(
        default=None,
        description="sqlite:///path.db or postgresql://user@host/db; default: SQLite in data_dir.",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8700, ge=0, le=65535)
    no_auth: bool = False
    workers: int = Field(default=1, ge=1, le=64, description="Server processes (PostgreSQL only).")
    max_json_bytes: int = Field(default=10 * MiB, gt=0)
    max_import_bytes: int = Field(default=1024 * MiB, gt=0)
    max_file_bytes: int = Field(default=100 * MiB, gt=0)
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    reaper_interval: float = Field(default=30.0, gt=0)
    heartbeat_interval: float = Field(default=15.0, gt=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    pg_pool_size: int = Field(default=10, ge=1)
    pg_writers: int = Field(default=2, ge=1, le=16, description="Write batches in flight.")
    root_dialect: str | None = Field(
        default=None, description="Also mount this dialect at / (for clients that cannot prefix)."
    )
    ssl_certfile: Path | None = Field(
        default=None, description="TLS certificate (PEM; may hold the key too): serve HTTPS."
    )
    ssl_keyfile: Path | None = Field(default=None, description="TLS private key (PEM).")
    agent_base_url: str | None = Field(
        default=None, description="OpenAI-compatible chat-completions base URL for agents."
    )
    agent_model: str | None = Field(default=None, description="Model name agents ask for.")
    agent_api_key: str | None = Field(default=None, description="API key for the agent provider.")
    agent_timeout: float = Field(default=300.0, gt=0, description="Seconds per LLM request.")
    agent_max_steps: int = Field(default=50, ge=1, description="Model calls per agent turn.")
    agent_stream: bool = Field(
        default=True, description="Stream chat completions (false: ask for whole replies)."
    )
    agent_prompt_variables: dict[str, str] = Field(
        default_factory=dict, description="Values for $<name> in custom system prompts (JSON)."
    )
    kernel_replay_on_restart: bool = Field(
        default=False,
        description="Re-execute a kernel session's transcript when its kernel starts again.",
    )
    kernel_cull_idle_timeout: float = Field(
        default=0.0, ge=0, description="Seconds idle before a kernel is shut down; 0 = never."
    )
    kernel_cull_interval: float = Field(
        default=300.0, gt=0, description="Seconds between idle-kernel checks."
    )
    kernel_pool_size: int = Field(
        default=0, ge=0, le=64, description="Warm kernels kept started per pooled kernelspec."
    )
    kernel_pool_kernelspecs: str = Field(
        default="", description="Comma-separated kernelspecs to pool; empty: the default one."
    )
    sandbox: Literal["auto", "bubblewrap", "none"] = Field(
        default="auto",
        description="How user code runs: bubblewrap namespaces (auto: where bwrap is "
        "installed), or none (unsandboxed; single-user setups only).",
    )
    sandbox_network: bool = Field(
        default=False,
        description="Let sandboxed code use the host's network (trusted single-tenant setups).",
    )
    sandbox_memory_mb: int = Field(
        default=2048, ge=16,
        description="Memory of one sandboxed process tree (a cgroup; RLIMIT_AS without one).",
    )  # fmt: skip
    sandbox_processes: int = Field(
        default=256, ge=8, description="Processes and threads of one sandboxed process tree."
    )
    sandbox_disk_mb: int = Field(
        default=1024, ge=1,
        description="Largest file a sandboxed process may write (RLIMIT_FSIZE).",
    )  # fmt: skip
    session_quota_mb: int = Field(
        default=2048, ge=0,
        description="Disk quota of one session directory (a btrfs subvolume's qgroup, "
        "where the files root is on btrfs with quotas on); 0 = none.",
    )  # fmt: skip
    files_root: Path | None = Field(
        default=None,
        description="Where session directories live; default: data_dir/files. Share it "
        "between hosts (a shared filesystem) when several nodes serve one database.",
    )
    node_url: str | None = Field(
        default=None,
        description="The URL other nodes reach this one at; default: http://<host>:<port>.",
    )
    node_id: str | None = Field(
        default=None, description="Set by the server for each process (a fresh id); leave unset."
    )
    node_heartbeat_interval: float = Field(
        default=2.0, gt=0, description="Seconds between a node's heartbeats in the database."
    )
    node_takeover_timeout: float = Field(
        default=10.0, gt=0,
        description="Seconds without a heartbeat before another node takes a node's kernels.",
    )  # fmt: skip
    hot_routes: bool = Field(
        default=True, description="Serve append and get through the lean Starlette routes."
    )
    otel_traces: bool = Field(
        default=False,
        description="Export OpenTelemetry traces of requests, store writes and runs over "
        "OTLP/HTTP (configured by the standard OTEL_* variables; needs the otel extra).",
    )

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        for prefix in ("postgresql+asyncpg://", "postgres://", "postgresql+psycopg://"):
            if value.startswith(prefix):
                return "postgresql://" + value[len(prefix) :]
        if value.startswith("sqlite+aiosqlite://"):
            value = "sqlite://" + value[len("sqlite+aiosqlite://") :]
        if not value.startswith(DATABASE_SCHEMES):
            scheme = value.partition("://")[0] if "://" in value else value
            raise ValueError(
                f"unsupported database URL scheme {scheme!r}: "
                "use sqlite:///path.db or postgresql://user@host/db"
            )
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'sessionhub.db').resolve()}"

    @property
    def kernel_pool_names(self) -> list[str]:
        """The kernelspecs named in ``kernel_pool_kernelspecs`` ([] means the default)."""
        return [name.strip() for name in self.kernel_pool_kernelspecs.split(",") if name.strip()]

    @property
    def files_dir(self) -> Path:
        return self.files_root if self.files_root is not None else self.data_dir / "files"

    @property
    def runtime_dir(self) -> Path:
        """This node's own runtime files (kernel connection files, ipc sockets): never
        the working directory, never shared between nodes."""
        return self.data_dir / "runtime" / (self.node_id or "local")

    @property
    def advertised_url(self) -> str:
        """Where other nodes send this node's forwarded requests."""
        if self.node_url:
            return self.node_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    def host_is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def redact_url(url: str) -> str:
    """Hide the password in a database URL before it reaches a log or an error."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at or ":" not in creds:
        return url
    user = creds.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"


def settings_error(exc: ValidationError) -> str:
    """One line naming the setting (its flag and variable), what is wrong and what was given."""
    first = exc.errors()[0]
    name = str(first["loc"][0]) if first["loc"] else "settings"
    where = f"--{name.replace('_', '-')} (SESSIONHUB_{name.upper()})"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "value_error":
        return f"{where}: {message}"
    return f"{where}: {message}, not {first['input']!r}"
