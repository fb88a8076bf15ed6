"""settlement: task funding, epochs, entitlements, earnings

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 12:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import datacoop.db.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TS = datacoop.db.types.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "task_funding",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("escrow", sa.String(length=42), nullable=False),
        sa.Column("escrow_task_id", datacoop.db.types.Uint256(), nullable=False),
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column("linked_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_task_funding_task_id_tasks")),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_task_funding")),
        sa.UniqueConstraint("chain_id", "escrow", "escrow_task_id", name="uq_task_funding_escrow_task"),
    )
    op.create_table(
        "epochs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("root", sa.String(length=66), nullable=False),
        sa.Column("total", datacoop.db.types.Uint256(), nullable=False),
        sa.Column("added", datacoop.db.types.Uint256(), nullable=False),
        sa.Column("earnings", sa.Integer(), nullable=False),
        sa.Column("shortfall", datacoop.db.types.Uint256(), nullable=False),
        sa.Column("tx_key", sa.String(length=200), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_epochs_task_id_tasks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_epochs")),
        sa.UniqueConstraint("tx_key", name=op.f("uq_epochs_tx_key")),
    )
    with op.batch_alter_table("epochs", schema=None) as batch_op:
        batch_op.create_index("ix_epochs_task_number", ["task_id", "number"], unique=False)
        batch_op.create_index(batch_op.f("ix_epochs_status"), ["status"], unique=False)
    op.create_table(
        "epoch_entitlements",
        sa.Column("epoch_id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("cumulative", datacoop.db.types.Uint256(), nullable=False),
        sa.ForeignKeyConstraint(
            ["epoch_id"], ["epochs.id"], name=op.f("fk_epoch_entitlements_epoch_id_epochs")
        ),
        sa.PrimaryKeyConstraint("epoch_id", "account", name=op.f("pk_epoch_entitlements")),
    )
    with op.batch_alter_table("epoch_entitlements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_epoch_entitlements_account"), ["account"], unique=False)
    op.create_table(
        "earnings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("amount", datacoop.db.types.Uint256(), nullable=False),
        sa.Column("epoch_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["epoch_id"], ["epochs.id"], name=op.f("fk_earnings_epoch_id_epochs")),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_earnings_task_id_tasks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_earnings")),
        sa.UniqueConstraint("kind", "source_id", "account", name="uq_earnings_kind_source_account"),
    )
    with op.batch_alter_table("earnings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_earnings_account"), ["account"], unique=False)
        batch_op.create_index(batch_op.f("ix_earnings_epoch_id"), ["epoch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_earnings_task_id"), ["task_id"], unique=False)


def downgrade() -> None:
    op.drop_table("earnings")
    op.drop_table("epoch_entitlements")
    op.drop_table("epochs")
    op.drop_table("task_funding")
