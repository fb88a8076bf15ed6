"""compute-to-data: licences, jobs, usage

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 13:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import datacoop.db.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_TS = datacoop.db.types.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "compute_licences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("buyer", sa.String(length=42), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("price", datacoop.db.types.Uint256(), nullable=False),
        sa.Column("token", sa.String(length=42), nullable=True),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("expires_at", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["dataset_versions.id"],
            name=op.f("fk_compute_licences_version_id_dataset_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_licences")),
    )
    with op.batch_alter_table("compute_licences", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_compute_licences_buyer"), ["buyer"], unique=False)
        batch_op.create_index(batch_op.f("ix_compute_licences_version_id"), ["version_id"], unique=False)
    op.create_table(
        "compute_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("buyer_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("licence_id", sa.Integer(), nullable=True),
        sa.Column("algorithm_cid", sa.String(length=100), nullable=False),
        sa.Column("algorithm_name", sa.String(length=200), nullable=False),
        sa.Column("entry", sa.String(length=200), nullable=False),
        sa.Column("requirements", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("log", sa.Text(), nullable=True),
        sa.Column("outputs", sa.JSON(), nullable=False),
        sa.Column("isolation", sa.JSON(), nullable=False),
        sa.Column("seconds", sa.Double(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=100), nullable=True),
        sa.Column("lease_until", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["buyer_id"], ["participants.id"], name=op.f("fk_compute_jobs_buyer_id_participants")
        ),
        sa.ForeignKeyConstraint(
            ["licence_id"], ["compute_licences.id"], name=op.f("fk_compute_jobs_licence_id_compute_licences")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"], ["dataset_versions.id"], name=op.f("fk_compute_jobs_version_id_dataset_versions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_jobs")),
    )
    with op.batch_alter_table("compute_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_compute_jobs_buyer_id"), ["buyer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_compute_jobs_version_id"), ["version_id"], unique=False)
        batch_op.create_index("ix_compute_jobs_status_lease", ["status", "lease_until"], unique=False)
    op.create_table(
        "compute_usage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("licence_id", sa.Integer(), nullable=True),
        sa.Column("buyer", sa.String(length=42), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("amount", datacoop.db.types.Uint256(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("settled_at", _TS, nullable=True),
        sa.Column("settlement_ref", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["licence_id"], ["compute_licences.id"], name=op.f("fk_compute_usage_licence_id_compute_licences")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_usage")),
    )
    with op.batch_alter_table("compute_usage", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_compute_usage_buyer"), ["buyer"], unique=False)
        batch_op.create_index(batch_op.f("ix_compute_usage_licence_id"), ["licence_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("compute_usage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_compute_usage_licence_id"))
        batch_op.drop_index(batch_op.f("ix_compute_usage_buyer"))
    op.drop_table("compute_usage")
    with op.batch_alter_table("compute_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_compute_jobs_status_lease")
        batch_op.drop_index(batch_op.f("ix_compute_jobs_version_id"))
        batch_op.drop_index(batch_op.f("ix_compute_jobs_buyer_id"))
    op.drop_table("compute_jobs")
    with op.batch_alter_table("compute_licences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_compute_licences_version_id"))
        batch_op.drop_index(batch_op.f("ix_compute_licences_buyer"))
    op.drop_table("compute_licences")
