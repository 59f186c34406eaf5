"""Manual links: records linked or unlinked by hand (``trestle link``), and the events that record who did it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update

from trestle.models.links import LinkRow, LinksMixin, link_row
from trestle.models.tables import Link, LinkEvent
from trestle.timeutil import to_utc, utcnow


class LinkConflict(Exception):
    """A manual link would tie a record that is already linked to another one; ``existing`` is that link."""

    def __init__(self, message: str, existing: LinkRow) -> None:
        super().__init__(message)
        self.existing = existing


@dataclass(frozen=True)
class LinkEventRow:
    """One manual link or unlink, detached from the database session."""

    id: int
    entity: str
    action: str
    procore_id: str
    xero_id: str
    label: str
    by: str
    at: datetime

    def describe(self) -> str:
        """One line: what was linked or unlinked, by whom and when (UTC)."""
        verb = "linked" if self.action == "link" else "unlinked"
        name = self.entity.replace("_", " ")
        return (
            f"{self.label or 'no name'}: Procore {name} {self.procore_id} and Xero {self.xero_id} {verb} by hand "
            f"by {self.by} on {to_utc(self.at):%Y-%m-%d %H:%M} UTC"
        )


class ManualLinksMixin(LinksMixin):
    """Link and unlink by hand, and read the events that recorded it."""

    def link_manually(self, entity: str, *, procore_id: str, xero_id: str, label: str, by: str) -> LinkRow:
        """Link two records by hand (``origin = manual``) and record who did it.

        Raises :class:`LinkConflict` when either record is already linked to another one. The
        same pair linked already (by the matcher or by hand) becomes a manual link. The new link
        has no payload yet, so the next run updates the target from the source, as for any link.
        """
        now = utcnow()
        with self.session() as session:
            rows = session.scalars(
                select(Link).where(
                    Link.pair == self.pair,
                    Link.entity == entity,
                    or_(Link.procore_id == procore_id, Link.xero_id == xero_id),
                )
            ).all()
            for row in rows:
                if (row.procore_id, row.xero_id) != (procore_id, xero_id):
                    raise LinkConflict(f"{entity} link already exists", link_row(row))
            link = rows[0] if rows else Link(pair=self.pair, entity=entity, procore_id=procore_id, xero_id=xero_id)
            if not rows:
                link.fingerprint, link.last_payload = None, None
                session.add(link)
            link.label = label[:300]
            link.origin, link.linked_by, link.linked_at = "manual", by[:120], now
            link.updated_at = now
            session.add(self._event(entity, "link", procore_id, xero_id, label, by, now))
            session.flush()
            return link_row(link)

    def unlink(self, entity: str, *, procore_id: str | None = None, xero_id: str | None = None, by: str) -> LinkRow:
        """Remove the link holding that id and record who did it; ``KeyError`` when there is none."""
        now = utcnow()
        with self.session() as session:
            row = session.scalars(self._link_query(entity, procore_id=procore_id, xero_id=xero_id)).first()
            if row is None:
                raise KeyError(procore_id or xero_id)
            removed = link_row(row)
            session.delete(row)
            session.add(self._event(entity, "unlink", row.procore_id, row.xero_id, row.label, by, now))
            return removed

    def _event(
        self, entity: str, action: str, procore_id: str, xero_id: str, label: str, by: str, at: datetime
    ) -> LinkEvent:
        return LinkEvent(
            pair=self.pair,
            entity=entity,
            action=action,
            procore_id=procore_id,
            xero_id=xero_id,
            label=label[:300],
            by=by[:120],
            at=at,
        )

    def link_events(
        self, *, entity: str | None = None, since: datetime | None = None, unreported: bool = False
    ) -> list[LinkEventRow]:
        """Manual links and unlinks, oldest first: of one entity, since a time, or not yet in a summary."""
        with self.session() as session:
            query = select(LinkEvent).where(LinkEvent.pair == self.pair)
            if entity:
                query = query.where(LinkEvent.entity == entity)
            if since is not None:
                query = query.where(LinkEvent.at >= since)
            if unreported:
                query = query.where(LinkEvent.reported_at.is_(None))
            return [
                LinkEventRow(e.id, e.entity, e.action, e.procore_id, e.xero_id, e.label, e.by, e.at)
                for e in session.scalars(query.order_by(LinkEvent.at, LinkEvent.id))
            ]

    def mark_events_reported(self, ids: Sequence[int]) -> None:
        """Note that these link events were shown in a run's summary (each is shown once)."""
        if not ids:
            return
        with self.session() as session:
            session.execute(
                update(LinkEvent)
                .where(LinkEvent.pair == self.pair, LinkEvent.id.in_(list(ids)))
                .values(reported_at=utcnow())
            )
