"""sessions: an index on (workspace_id, forked_from), so "the forks of a session" is a lookup

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_sessions_forked_from", "sessions", ["workspace_id", "forked_from"])


def downgrade() -> None:
    op.drop_index("ix_sessions_forked_from", table_name="sessions")
