"""fraud signals: a hashed device fingerprint per submission, and each account's first funder

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 22:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import datacoop.db.types

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("device_hash", sa.String(length=64), nullable=True))
        batch.create_index(op.f("ix_submissions_device_hash"), ["device_hash"])
    op.create_table(
        "account_funders",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("funder", sa.String(length=42), nullable=True),
        sa.Column("scanned_from", sa.BigInteger(), nullable=False),
        sa.Column("scanned_to", sa.BigInteger(), nullable=False),
        sa.Column("checked_at", datacoop.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "address", name=op.f("pk_account_funders")),
    )
    op.create_index(op.f("ix_account_funders_funder"), "account_funders", ["funder"])


def downgrade() -> None:
    op.drop_index(op.f("ix_account_funders_funder"), table_name="account_funders")
    op.drop_table("account_funders")
    with op.batch_alter_table("submissions") as batch:
        batch.drop_index(op.f("ix_submissions_device_hash"))
        batch.drop_column("device_hash")
