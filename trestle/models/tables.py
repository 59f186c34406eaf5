"""The link store's tables (SQLAlchemy 2, Postgres in production, SQLite embedded).

Every row carries ``pair``: the name of one Procore company / Xero tenant pair, so one
install can serve several pairs without their links, cursors, tokens or issues meeting.

- ``links``: which Procore record is which Xero record, per entity, and what was last written;
  ``origin`` says whether the matcher made it (``auto``) or a person did (``manual``, with
  ``linked_by`` and ``linked_at``): the matcher never replaces a manual link.
- ``link_events``: every manual link and unlink (who, when, which pair of records), shown by
  ``trestle review`` and in the next run's summary (``reported_at`` marks it shown).
- ``write_intents``: a write recorded (with its idempotency key) *before* it is sent; a crash
  between the remote write and the local commit leaves a pending intent that the next run
  finishes instead of writing again.
- ``review_issues``: open problems per record, resolved automatically when it next syncs cleanly.
- ``cursors``: incremental read positions, saved only after a page's writes are committed.
- ``oauth_tokens``: rotating refresh tokens, saved before they are used, encrypted (Fernet, see
  :mod:`trestle.crypto`), with a fingerprint of the configured token that seeded them.
- ``run_locks``: one run per pair and integration at a time.
- ``runs``: a row per run, for history and the late-run guard.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from trestle.timeutil import to_utc, utcnow


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return to_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return to_utc(value)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Link(Base):
    __tablename__ = "links"
    __table_args__ = (
        UniqueConstraint("pair", "entity", "procore_id", name="uq_links_procore"),
        UniqueConstraint("pair", "entity", "xero_id", name="uq_links_xero"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pair: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    procore_id: Mapped[str] = mapped_column(String(64))
    xero_id: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(300), default="")
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    last_payload: Mapped[dict[str, Any] | None]
    origin: Mapped[str] = mapped_column(String(16), default="auto", server_default="auto")  # auto | manual
    linked_by: Mapped[str | None] = mapped_column(String(120))
    linked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LinkEvent(Base):
    __tablename__ = "link_events"
    __table_args__ = (Index("ix_link_events_pair", "pair", "entity", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pair: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(16))  # link | unlink
    procore_id: Mapped[str] = mapped_column(String(64))
    xero_id: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(300), default="")
    by: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    reported_at: Mapped[datetime | None]


class WriteIntent(Base):
    __tablename__ = "write_intents"
    __table_args__ = (
        UniqueConstraint("pair", "idempotency_key", name="uq_intents_key"),
        Index("ix_intents_pending", "pair", "integration", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pair: Mapped[str] = mapped_column(String(40))
    integration: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    source_id: Mapped[str] = mapped_column(String(64))
    target_system: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[str | None] = mapped_column(String(64))
    operation: Mapped[str] = mapped_column(String(16))  # create | update | delete
    idempotency_key: Mapped[str] = mapped_column(String(128))
    batch_key: Mapped[str] = mapped_column(String(128))
    batch_position: Mapped[int] = mapped_column(Integer, default=0)
    fingerprint: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(300), default="")
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]


class ReviewIssue(Base):
    __tablename__ = "review_issues"
    __table_args__ = (
        UniqueConstraint("pair", "entity", "record_id", "code", name="uq_issues_record_code"),
        Index("ix_issues_open", "pair", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pair: Mapped[str] = mapped_column(String(40))
    integration: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(300), default="")
    code: Mapped[str] = mapped_column(String(80))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None]
    url: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | resolved
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    occurrences: Mapped[int] = mapped_column(Integer, default=1)


class Cursor(Base):
    __tablename__ = "cursors"

    pair: Mapped[str] = mapped_column(String(40), primary_key=True)
    integration: Mapped[str] = mapped_column(String(40), primary_key=True)
    stream: Mapped[str] = mapped_column(String(60), primary_key=True)
    position: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OAuthToken(Base):
    __tablename__ = "oauth_tokens"

    pair: Mapped[str] = mapped_column(String(40), primary_key=True)
    system: Mapped[str] = mapped_column(String(16), primary_key=True)
    access_token: Mapped[str | None] = mapped_column(Text)  # encrypted
    refresh_token: Mapped[str | None] = mapped_column(Text)  # encrypted
    expires_at: Mapped[datetime | None]
    scope: Mapped[str | None] = mapped_column(Text)
    configured_fingerprint: Mapped[str | None] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RunLock(Base):
    __tablename__ = "run_locks"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    holder: Mapped[str] = mapped_column(String(80))
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (Index("ix_runs_pair_flow", "pair", "flow", "started_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    pair: Mapped[str] = mapped_column(String(40))
    flow: Mapped[str] = mapped_column(String(60))
    flow_run_id: Mapped[str | None] = mapped_column(String(40))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))
    summary: Mapped[dict[str, Any] | None]
    api_calls: Mapped[int] = mapped_column(BigInteger, default=0)
