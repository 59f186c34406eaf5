"""webhook change feed: the registered hook and the events received

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 06:30:00

``webhook_hooks`` keeps, per pair, the Procore hook ``trestle webhooks install`` registered and
the SHA-256 hash of the header value deliveries must carry; ``webhook_events`` keeps each
delivered event once (unique per pair and ulid) for the nightly's choice of projects.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_hooks",
        sa.Column("pair", sa.String(length=40), nullable=False),
        sa.Column("hook_id", sa.String(length=40), nullable=False),
        sa.Column("namespace", sa.String(length=60), nullable=False),
        sa.Column("destination_url", sa.String(length=500), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pair"),
    )
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pair", sa.String(length=40), nullable=False),
        sa.Column("event_key", sa.String(length=64), nullable=False),
        sa.Column("resource_name", sa.String(length=100), nullable=False),
        sa.Column("resource_id", sa.String(length=40), nullable=False),
        sa.Column("event_type", sa.String(length=16), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=True),
        sa.Column("source_application_id", sa.String(length=100), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pair", "event_key", name="uq_webhook_events_key"),
    )
    with op.batch_alter_table("webhook_events") as batch:
        batch.create_index("ix_webhook_events_received", ["pair", "received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_events") as batch:
        batch.drop_index("ix_webhook_events_received")
    op.drop_table("webhook_events")
    op.drop_table("webhook_hooks")
