"""Alembic migrations, run on start and by ``sessionhub db upgrade``."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

HERE = Path(__file__).parent


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["sync_url"] = sync_url(database_url)
    return config


def sync_url(database_url: str) -> str:
    """A synchronous SQLAlchemy URL for Alembic; psycopg is not required on PostgreSQL."""
    if database_url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + database_url[len("postgresql://") :]
    return database_url


def upgrade(database_url: str) -> None:
    """Bring the schema to head (blocking; call it from a thread)."""
    command.upgrade(alembic_config(database_url), "head")


def head_revision() -> str | None:
    return ScriptDirectory(str(HERE)).get_current_head()
