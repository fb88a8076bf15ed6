"""compute release policies (approved / open per version) and the ε each buyer spent per dataset

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 05:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import datacoop.db.types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_TS = datacoop.db.types.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "compute_policies",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("set_by", sa.String(length=42), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["dataset_versions.id"],
            name=op.f("fk_compute_policies_version_id_dataset_versions"),
        ),
        sa.PrimaryKeyConstraint("version_id", name=op.f("pk_compute_policies")),
    )
    op.create_table(
        "compute_privacy_spend",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("buyer", sa.String(length=42), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("epsilon", sa.Double(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_compute_privacy_spend_dataset_id_datasets")
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["compute_jobs.id"], name=op.f("fk_compute_privacy_spend_job_id_compute_jobs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_privacy_spend")),
        sa.UniqueConstraint("job_id", name=op.f("uq_compute_privacy_spend_job_id")),
    )
    with op.batch_alter_table("compute_privacy_spend", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_compute_privacy_spend_buyer"), ["buyer"], unique=False)
        batch_op.create_index(batch_op.f("ix_compute_privacy_spend_dataset_id"), ["dataset_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("compute_privacy_spend", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_compute_privacy_spend_dataset_id"))
        batch_op.drop_index(batch_op.f("ix_compute_privacy_spend_buyer"))
    op.drop_table("compute_privacy_spend")
    op.drop_table("compute_policies")
