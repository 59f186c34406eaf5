"""Links: which Procore record is which Xero record, with the payload last written.

Loaded once per run by the engine and saved with the writes they complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from trestle.models.store_base import StoreBase
from trestle.models.tables import Link
from trestle.timeutil import utcnow


@dataclass(frozen=True)
class LinkRow:
    """A snapshot of one link, detached from the database session."""

    entity: str
    procore_id: str
    xero_id: str
    fingerprint: str | None
    last_payload: dict[str, Any] | None
    label: str = ""
    origin: str = "auto"  # auto (the matcher) | manual (``trestle link``)
    linked_by: str | None = None
    linked_at: datetime | None = None


class LinksMixin(StoreBase):
    """Read, save and delete the links of one ``pair``."""

    def links(self, entity: str) -> list[LinkRow]:
        """Every link of ``entity`` for this pair (loaded once per run and indexed by the engine)."""
        with self.session() as session:
            rows = session.scalars(select(Link).where(Link.pair == self.pair, Link.entity == entity))
            return [link_row(row) for row in rows]

    def save_links(self, rows: Sequence[LinkRow], *, session: Session | None = None) -> None:
        """Insert or update links by (entity, procore_id)."""
        if session is None:
            with self.session() as own:
                self.save_links(rows, session=own)
            return
        for row in rows:
            existing = session.scalars(
                select(Link).where(
                    Link.pair == self.pair,
                    Link.entity == row.entity,
                    or_(Link.procore_id == row.procore_id, Link.xero_id == row.xero_id),
                )
            ).all()
            target = next((item for item in existing if item.procore_id == row.procore_id), None)
            for stale in existing:
                if stale is not target:  # the other side was relinked: one record, one link
                    session.delete(stale)
            session.flush()
            if target is None:
                target = Link(
                    pair=self.pair,
                    entity=row.entity,
                    procore_id=row.procore_id,
                    xero_id=row.xero_id,
                    origin=row.origin,
                    linked_by=row.linked_by,
                    linked_at=row.linked_at,
                )
                session.add(target)
            target.xero_id = row.xero_id
            target.fingerprint = row.fingerprint
            target.last_payload = row.last_payload
            target.label = row.label[:300]
            target.updated_at = utcnow()

    def delete_link(self, entity: str, *, procore_id: str) -> None:
        with self.session() as session:
            session.execute(
                delete(Link).where(Link.pair == self.pair, Link.entity == entity, Link.procore_id == procore_id)
            )

    def find_link(self, entity: str, *, procore_id: str | None = None, xero_id: str | None = None) -> LinkRow | None:
        """The link of ``entity`` holding that Procore id (or that Xero id), if any."""
        with self.session() as session:
            row = session.scalars(self._link_query(entity, procore_id=procore_id, xero_id=xero_id)).first()
            return link_row(row) if row is not None else None

    def _link_query(self, entity: str, *, procore_id: str | None, xero_id: str | None) -> Any:
        if (procore_id is None) == (xero_id is None):
            raise ValueError("give exactly one of procore_id and xero_id")
        side = Link.procore_id == procore_id if procore_id is not None else Link.xero_id == xero_id
        return select(Link).where(Link.pair == self.pair, Link.entity == entity, side)


def link_row(row: Link) -> LinkRow:
    """A detached snapshot of a link row."""
    return LinkRow(
        row.entity,
        row.procore_id,
        row.xero_id,
        row.fingerprint,
        row.last_payload,
        row.label,
        origin=row.origin or "auto",
        linked_by=row.linked_by,
        linked_at=row.linked_at,
    )
