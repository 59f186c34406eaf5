"""Seen versions: the source ``updated_at`` of each record as a run last settled it.

A list read since a cursor less the overlap window returns again, every night, the records of
that window, and some of them cost more calls to map (a commitment's lines are only in its show).
A record whose listed ``updated_at`` equals the version stored here was settled at that very
version — written, linked, found unchanged or given its review issues — so the read can leave it
out without a call. One with open issues still comes back through the pipeline's re-check when its
blocker may have gone (:mod:`trestle.integrations.recheck`); one whose write failed or is still
unconfirmed is not stored. A full refresh and a dry run ignore what is stored here.

Rows are kept per ``pair`` and integration in the ``seen_versions`` table (migration ``0004``);
saved only after their record's write is recorded, so a version never claims a write that was not.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from trestle.models.store import LinkStore
from trestle.models.tables import Base, UTCDateTime
from trestle.timeutil import to_utc

SAVE_CHUNK = 500


class SeenVersion(Base):
    __tablename__ = "seen_versions"

    pair: Mapped[str] = mapped_column(String(40), primary_key=True)
    integration: Mapped[str] = mapped_column(String(40), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


def load(store: LinkStore, integration: str) -> dict[str, datetime]:
    """Record id → the ``updated_at`` last settled, for one integration of the store's pair."""
    with store.session() as session:
        rows = session.execute(
            select(SeenVersion.record_id, SeenVersion.updated_at).where(
                SeenVersion.pair == store.pair, SeenVersion.integration == integration
            )
        )
        return {record_id: to_utc(stamp) for record_id, stamp in rows}


def save(store: LinkStore, integration: str, versions: Mapping[str, datetime]) -> None:
    """Store (replace) the settled versions of ``versions``' records."""
    if not versions:
        return
    ids = sorted(versions)
    with store.session() as session:
        for start in range(0, len(ids), SAVE_CHUNK):
            chunk = ids[start : start + SAVE_CHUNK]
            session.execute(
                delete(SeenVersion).where(
                    SeenVersion.pair == store.pair,
                    SeenVersion.integration == integration,
                    SeenVersion.record_id.in_(chunk),
                )
            )
            session.add_all(
                SeenVersion(
                    pair=store.pair, integration=integration, record_id=record_id, updated_at=versions[record_id]
                )
                for record_id in chunk
            )


def forget(store: LinkStore, integration: str, record_ids: list[str]) -> None:
    """Drop the stored versions of ``record_ids`` (a record whose write failed, say)."""
    if not record_ids:
        return
    with store.session() as session:
        for start in range(0, len(record_ids), SAVE_CHUNK):
            session.execute(
                delete(SeenVersion).where(
                    SeenVersion.pair == store.pair,
                    SeenVersion.integration == integration,
                    SeenVersion.record_id.in_(record_ids[start : start + SAVE_CHUNK]),
                )
            )
