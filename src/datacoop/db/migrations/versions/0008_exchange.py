"""exchange: listings, orders, royalty rounds and entitlements

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 13:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import datacoop.db.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TS = datacoop.db.types.UtcDateTime(timezone=True)
_U256 = datacoop.db.types.Uint256


def upgrade() -> None:
    op.create_table(
        "listings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("publisher_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("modality", sa.String(length=16), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("origins", sa.JSON(), nullable=False),
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column("price", _U256(), nullable=False),
        sa.Column("licence", sa.String(length=100), nullable=False),
        sa.Column("terms_text", sa.Text(), nullable=False),
        sa.Column("terms_hash", sa.String(length=66), nullable=False),
        sa.Column("duration_s", sa.BigInteger(), nullable=False),
        sa.Column("royalty_bps", sa.Integer(), nullable=False),
        sa.Column("access_modes", sa.JSON(), nullable=False),
        sa.Column("jurisdictions", sa.JSON(), nullable=False),
        sa.Column("data_category", sa.String(length=32), nullable=False),
        sa.Column("consent_scope", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("tx_key", sa.String(length=200), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("market_listing_id", _U256(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["publisher_id"], ["participants.id"], name=op.f("fk_listings_publisher_id_participants")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"], ["dataset_versions.id"], name=op.f("fk_listings_version_id_dataset_versions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listings")),
        sa.UniqueConstraint("tx_key", name=op.f("uq_listings_tx_key")),
    )
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_listings_licence"), ["licence"], unique=False)
        batch_op.create_index(batch_op.f("ix_listings_modality"), ["modality"], unique=False)
        batch_op.create_index(batch_op.f("ix_listings_version_id"), ["version_id"], unique=False)
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("buyer_id", sa.Integer(), nullable=False),
        sa.Column("buyer", sa.String(length=42), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("licence_id", _U256(), nullable=False),
        sa.Column("expires", sa.BigInteger(), nullable=False),
        sa.Column("amount", _U256(), nullable=False),
        sa.Column("royalty", _U256(), nullable=False),
        sa.Column("publisher_share", _U256(), nullable=False),
        sa.Column("operator_fee", _U256(), nullable=False),
        sa.Column("jurisdiction", sa.String(length=2), nullable=False),
        sa.Column("purpose", sa.String(length=100), nullable=False),
        sa.Column("safeguards", sa.JSON(), nullable=False),
        sa.Column("granted", sa.JSON(), nullable=False),
        sa.Column("withheld", sa.JSON(), nullable=False),
        sa.Column("forward_tx_key", sa.String(length=200), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["buyer_id"], ["participants.id"], name=op.f("fk_orders_buyer_id_participants")
        ),
        sa.ForeignKeyConstraint(["listing_id"], ["listings.id"], name=op.f("fk_orders_listing_id_listings")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("licence_id", name=op.f("uq_orders_licence_id")),
        sa.UniqueConstraint("tx_hash", name=op.f("uq_orders_tx_hash")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_buyer_id"), ["buyer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_listing_id"), ["listing_id"], unique=False)
    op.create_table(
        "royalty_rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("credited", _U256(), nullable=False),
        sa.Column("total", _U256(), nullable=False),
        sa.Column("root", sa.String(length=66), nullable=False),
        sa.Column("tx_key", sa.String(length=200), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listings.id"], name=op.f("fk_royalty_rounds_listing_id_listings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_royalty_rounds")),
        sa.UniqueConstraint("tx_key", name=op.f("uq_royalty_rounds_tx_key")),
    )
    with op.batch_alter_table("royalty_rounds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_royalty_rounds_listing_id"), ["listing_id"], unique=False)
    op.create_table(
        "royalty_entitlements",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("cumulative", _U256(), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"], ["royalty_rounds.id"], name=op.f("fk_royalty_entitlements_round_id_royalty_rounds")
        ),
        sa.PrimaryKeyConstraint("round_id", "account", name=op.f("pk_royalty_entitlements")),
    )
    with op.batch_alter_table("royalty_entitlements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_royalty_entitlements_account"), ["account"], unique=False)


def downgrade() -> None:
    op.drop_table("royalty_entitlements")
    op.drop_table("royalty_rounds")
    op.drop_table("orders")
    op.drop_table("listings")
