"""chain watcher: a cursor per deployment, the recent headers it saw, and the events it kept

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 17:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import datacoop.db.types

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chain_cursors",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("head", sa.BigInteger(), nullable=False),
        sa.Column("reorgs", sa.Integer(), nullable=False),
        sa.Column("deep_reorgs", sa.Integer(), nullable=False),
        sa.Column("updated_at", datacoop.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_chain_cursors")),
    )
    op.create_table(
        "chain_headers",
        sa.Column("cursor", sa.String(length=100), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=66), nullable=False),
        sa.ForeignKeyConstraint(
            ["cursor"], ["chain_cursors.name"], name=op.f("fk_chain_headers_cursor_chain_cursors")
        ),
        sa.PrimaryKeyConstraint("cursor", "number", name=op.f("pk_chain_headers")),
    )
    op.create_table(
        "chain_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.String(length=100), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("contract", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cursor"], ["chain_cursors.name"], name=op.f("fk_chain_events_cursor_chain_cursors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_events")),
        sa.UniqueConstraint("chain_id", "block_hash", "log_index", name="uq_chain_events_log"),
    )
    op.create_index("ix_chain_events_cursor_block", "chain_events", ["cursor", "block_number"])
    op.create_index(op.f("ix_chain_events_tx_hash"), "chain_events", ["tx_hash"])
    op.create_index(op.f("ix_chain_events_name"), "chain_events", ["name"])


def downgrade() -> None:
    op.drop_index(op.f("ix_chain_events_name"), table_name="chain_events")
    op.drop_index(op.f("ix_chain_events_tx_hash"), table_name="chain_events")
    op.drop_index("ix_chain_events_cursor_block", table_name="chain_events")
    op.drop_table("chain_events")
    op.drop_table("chain_headers")
    op.drop_table("chain_cursors")
