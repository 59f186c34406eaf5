"""manual links: who linked a pair of records by hand, and every link and unlink they made

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 01:20:00

``links`` gains ``origin`` (``auto`` for every existing row: the matcher made them),
``linked_by`` and ``linked_at``. ``link_events`` records each ``trestle link`` / ``trestle
unlink``, for ``trestle review`` and the next run's summary.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.add_column(sa.Column("origin", sa.String(length=16), nullable=False, server_default="auto"))
        batch.add_column(sa.Column("linked_by", sa.String(length=120), nullable=True))
        batch.add_column(sa.Column("linked_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "link_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pair", sa.String(length=40), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("procore_id", sa.String(length=64), nullable=False),
        sa.Column("xero_id", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("by", sa.String(length=120), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("link_events") as batch:
        batch.create_index("ix_link_events_pair", ["pair", "entity", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("link_events") as batch:
        batch.drop_index("ix_link_events_pair")
    op.drop_table("link_events")
    with op.batch_alter_table("links") as batch:
        batch.drop_column("linked_at")
        batch.drop_column("linked_by")
        batch.drop_column("origin")
