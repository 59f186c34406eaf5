"""initial link store

Revision ID: 0001
Revises:
Create Date: 2026-11-20 23:32:42.384152
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "cursors",
        sa.Column("pair", sa.String(length=40), nullable=False),
        sa.Column("integration", sa.String(length=40), nullable=False),
        sa.Column("stream", sa.String(length=60), nullable=False),
        sa.Column("position", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pair", "integration", "stream"),
    )
    op.create_table(
        "links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pair", sa.String(length=40), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("procore_id", sa.String(length=64), nullable=False),
        sa.Column("xero_id", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("last_payload", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pair", "entity", "procore_id", name="uq_links_procore"),
        sa.UniqueConstraint("pair", "entity", "xero_id", name="uq_links_xero"),
    )
    op.create_table(
        "oauth_tokens",
        sa.Column("pair", sa.String(length=40), nullable=False),
        sa.Column("system", sa.String(length=16), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=True),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("scope", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pair", "system"),
    )
    op.create_table(
        "review_issues",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pair", sa.String(length=40), nullable=False),
        sa.Column("integration", sa.String(length=40), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("code", sa.String(length=80), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pair", "entity", "record_id", "code", name="uq_issues_record_code"),
    )
    with op.batch_alter_table("review_issues", schema=None) as batch_op:
        batch_op.create_index("ix_issues_open", ["pair", "status"], unique=False)

    op.create_table(
        "run_locks",
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("holder", sa.String(length=80), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("pair", sa.String(length=40), nullable=False),
        sa.Column("flow", sa.String(length=60), nullable=False),
        sa.Column("flow_run_id", sa.String(length=40), nullable=True),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("api_calls", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index("ix_runs_pair_flow", ["pair", "flow", "started_at"], unique=False)

    op.create_table(
        "write_intents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pair", sa.String(length=40), nullable=False),
        sa.Column("integration", sa.String(length=40), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("target_system", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("batch_key", sa.String(length=128), nullable=False),
        sa.Column("batch_position", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pair", "idempotency_key", name="uq_intents_key"),
    )
    with op.batch_alter_table("write_intents", schema=None) as batch_op:
        batch_op.create_index("ix_intents_pending", ["pair", "integration", "status"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("write_intents", schema=None) as batch_op:
        batch_op.drop_index("ix_intents_pending")

    op.drop_table("write_intents")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_pair_flow")

    op.drop_table("runs")
    op.drop_table("run_locks")
    with op.batch_alter_table("review_issues", schema=None) as batch_op:
        batch_op.drop_index("ix_issues_open")

    op.drop_table("review_issues")
    op.drop_table("oauth_tokens")
    op.drop_table("links")
    op.drop_table("cursors")
