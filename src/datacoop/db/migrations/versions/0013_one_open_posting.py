"""one open posting: at most one pending or posted epoch per task, and royalty round per listing

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 06:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_OPEN = sa.text("status IN ('pending', 'posted')")


def upgrade() -> None:
    op.create_index(
        "uq_epochs_one_open", "epochs", ["task_id"], unique=True, sqlite_where=_OPEN, postgresql_where=_OPEN
    )
    op.create_index(
        "uq_royalty_rounds_one_open", "royalty_rounds", ["listing_id"], unique=True,
        sqlite_where=_OPEN, postgresql_where=_OPEN,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("uq_royalty_rounds_one_open", table_name="royalty_rounds")
    op.drop_index("uq_epochs_one_open", table_name="epochs")
