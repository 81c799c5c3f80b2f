"""The relational schema, defined once with SQLAlchemy Core.

Alembic migrations in ``sessionhub.store.migrations`` create exactly these
tables; ``tests/store/test_migrations.py`` checks the two agree. Queries on the
hot path are plain SQL text (see ``queries``), but the schema lives here.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

JsonColumn = JSON().with_variant(JSONB(), "postgresql")
Timestamp = DateTime(timezone=True)

workspaces = Table(
    "workspaces",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("created_at", Timestamp, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Text, primary_key=True),
    Column("workspace_id", Text, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    Column("prefix", Text, nullable=False),
    Column("key_hash", Text, nullable=False, unique=True),
    Column("admin", Boolean, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("revoked_at", Timestamp, nullable=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Text, primary_key=True),
    Column("workspace_id", Text, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("name", Text, nullable=True),
    Column("title", Text, nullable=True),
    Column("parent_id", Text, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=True),
    Column("forked_from", Text, nullable=True),
    Column("forked_at_event", Text, nullable=True),
    Column("status", Text, nullable=False),
    Column("attributes", JsonColumn, nullable=False),
    Column("metadata", JsonColumn, nullable=False),
    Column("counts", JsonColumn, nullable=False),
    Column("event_count", BigInteger, nullable=False),
    Column("message_count", BigInteger, nullable=False),
    Column("tool_call_count", BigInteger, nullable=False),
    Column("input_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),
    Column("cost", Float, nullable=False),
    Column("duration_ms", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("version", Integer, nullable=False),
    Column("idempotency_key", Text, nullable=True),
    Column("request_hash", Text, nullable=True),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Column("expires_at", Timestamp, nullable=True),
    UniqueConstraint("workspace_id", "kind", "name"),
    UniqueConstraint("workspace_id", "idempotency_key"),
    Index("ix_sessions_workspace_created", "workspace_id", "created_at", "id"),
    Index("ix_sessions_parent", "parent_id"),
    Index("ix_sessions_forked_from", "workspace_id", "forked_from"),
    Index("ix_sessions_expires", "expires_at"),
)

events = Table(
    "events",
    metadata,
    Column("id", Text, primary_key=True),
    Column("session_id", Text, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("type", Text, nullable=False),
    Column("role", Text, nullable=True),
    Column("payload", JsonColumn, nullable=False),
    Column("input_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),
    Column("cost", Float, nullable=False),
    Column("duration_ms", BigInteger, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    UniqueConstraint("session_id", "seq"),
    # global message history (Mix's /api/messages/history) walks user messages by time;
    # partial, so appends of every other type pay nothing for it
    Index(
        "ix_events_user_messages",
        "created_at",
        sqlite_where=text("type = 'message' AND role = 'user'"),
        postgresql_where=text("type = 'message' AND role = 'user'"),
    ),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Text, primary_key=True),
    Column("session_id", Text, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("driver", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("input", JsonColumn, nullable=False),
    Column("error", Text, nullable=True),
    Column("owner", Text, nullable=False),
    Column("started_at", Timestamp, nullable=False),
    Column("ended_at", Timestamp, nullable=True),
    Index(
        "uq_runs_one_active",
        "session_id",
        unique=True,
        sqlite_where=text("status = 'running'"),
        postgresql_where=text("status = 'running'"),
    ),
)

machines = Table(
    "machines",
    metadata,
    Column("id", Text, primary_key=True),
    Column("workspace_id", Text, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    Column("command", Text, nullable=False),
    Column("env", JsonColumn, nullable=False),
    Column("gpu", Text, nullable=False),
    Column("price_per_hour", Float, nullable=False),
    Column("max_sessions", Integer, nullable=False),
    Column("probe", Text, nullable=False),
    Column("startup_timeout", Float, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("host", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("workspace_id", "name"),
)

# several server processes (sessionhub.core.nodes): each is a node with a heartbeat;
# a host-bound resource (a kernel) is leased to one node at a time
nodes = Table(
    "nodes",
    metadata,
    Column("id", Text, primary_key=True),
    Column("url", Text, nullable=False),
    Column("started_at", Timestamp, nullable=False),
    Column("heartbeat_at", Timestamp, nullable=False),
)

leases = Table(
    "leases",
    metadata,
    Column("resource", Text, primary_key=True),
    Column("owner", Text, nullable=False),
    Column("acquired_at", Timestamp, nullable=False),
    Index("ix_leases_owner", "owner"),
)

# the credential nodes send each other on forwarded requests (never a client key)
cluster_secrets = Table(
    "cluster_secrets",
    metadata,
    Column("name", Text, primary_key=True),
    Column("secret", Text, nullable=False),
)
