"""user messages by time: a partial index for global message history

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

WHERE = "type = 'message' AND role = 'user'"


def upgrade() -> None:
    op.create_index(
        "ix_events_user_messages",
        "events",
        ["created_at"],
        sqlite_where=sa.text(WHERE),
        postgresql_where=sa.text(WHERE),
    )


def downgrade() -> None:
    op.drop_index("ix_events_user_messages", table_name="events")
