"""nodes, leases and the cluster secret: several server processes, one owner per resource

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "nodes",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("heartbeat_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nodes")),
    )
    op.create_table(
        "leases",
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("acquired_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("resource", name=op.f("pk_leases")),
    )
    op.create_index("ix_leases_owner", "leases", ["owner"])
    op.create_table(
        "cluster_secrets",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cluster_secrets")),
    )


def downgrade() -> None:
    op.drop_table("cluster_secrets")
    op.drop_index("ix_leases_owner", table_name="leases")
    op.drop_table("leases")
    op.drop_table("nodes")
