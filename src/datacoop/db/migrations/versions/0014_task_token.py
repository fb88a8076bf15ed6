"""task token: the ERC-20 a task pays in (address, symbol, decimals), read from chain at creation

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # nullable: tasks made before this know no token until their escrow link names one
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token", sa.String(length=42), nullable=True))
        batch_op.add_column(sa.Column("token_symbol", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("token_decimals", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("token_decimals")
        batch_op.drop_column("token_symbol")
        batch_op.drop_column("token")
