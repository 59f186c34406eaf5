"""The change feed's tables (migration 0005): the registered hook, and the events received.

- ``webhook_hooks``: per pair, the Procore hook Trestle registered — its id, namespace and
  destination, and the SHA-256 hash of the Authorization header value it asked Procore to send
  (the value itself is kept nowhere in Trestle: only Procore holds it).
- ``webhook_events``: every event delivered, once per ``event_key`` (its ulid, or ``id:<id>``
  when it has none), with what the nightly needs to pick projects: resource, project, times, and
  the application that made the change (``metadata.source_application_id``: Trestle's own writes
  need no re-read).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from trestle.models.tables import Base
from trestle.timeutil import utcnow


class WebhookHook(Base):
    __tablename__ = "webhook_hooks"

    pair: Mapped[str] = mapped_column(String(40), primary_key=True)
    hook_id: Mapped[str] = mapped_column(String(40))
    namespace: Mapped[str] = mapped_column(String(60))
    destination_url: Mapped[str] = mapped_column(String(500))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    installed_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookEvent(Base):
    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("pair", "event_key", name="uq_webhook_events_key"),
        Index("ix_webhook_events_received", "pair", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pair: Mapped[str] = mapped_column(String(40))
    event_key: Mapped[str] = mapped_column(String(64))
    resource_name: Mapped[str] = mapped_column(String(100))
    resource_id: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(16))
    project_id: Mapped[str | None] = mapped_column(String(40))
    source_application_id: Mapped[str | None] = mapped_column(String(100))
    occurred_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
