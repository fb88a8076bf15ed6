"""item features: one feature vector per submission, for its task's relevance model

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 22:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import datacoop.db.types

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "item_features",
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=40), nullable=False),
        sa.Column("dims", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("p_accept", sa.Double(), nullable=True),
        sa.Column("created_at", datacoop.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.id"], name=op.f("fk_item_features_submission_id_submissions")
        ),
        sa.PrimaryKeyConstraint("submission_id", name=op.f("pk_item_features")),
    )


def downgrade() -> None:
    op.drop_table("item_features")
