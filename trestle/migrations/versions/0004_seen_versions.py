"""seen versions: each record's source updated_at as a run last settled it

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 06:40:00

``seen_versions`` (pair, integration, record_id → updated_at) lets an incremental read leave out,
without a call, a record its overlap window returns again at the version already settled (see
:mod:`trestle.models.seen`). Empty at first: the first run after the upgrade reads as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seen_versions",
        sa.Column("pair", sa.String(length=40), nullable=False),
        sa.Column("integration", sa.String(length=40), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pair", "integration", "record_id"),
    )


def downgrade() -> None:
    op.drop_table("seen_versions")
