"""outbox single writer: a version column that fences stale writers, and the follower's lease

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 05:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import datacoop.db.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chain_txs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    op.create_table(
        "chain_leases",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=True),
        sa.Column("expires_at", datacoop.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_chain_leases")),
    )


def downgrade() -> None:
    op.drop_table("chain_leases")
    with op.batch_alter_table("chain_txs", schema=None) as batch_op:
        batch_op.drop_column("version")
