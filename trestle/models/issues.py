"""Review issues: what a person has to look at, opened, refreshed and resolved per record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update

from trestle.models.store_base import StoreBase
from trestle.models.tables import ReviewIssue
from trestle.timeutil import utcnow


@dataclass
class IssueIn:
    """A review issue raised for a record in this run."""

    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)


class IssuesMixin(StoreBase):
    """Open, resolve and search the review issues of one ``pair``."""

    def reconcile_issues(
        self,
        integration: str,
        entity: str,
        found: dict[str, list[IssueIn]],
        *,
        labels: dict[str, str],
        urls: dict[str, str | None] | None = None,
        resolve_others: bool = True,
    ) -> None:
        """Open (or refresh) the issues found for each record, and resolve the ones that went away.

        ``found`` maps every record processed in this batch to its issues (an empty list for
        a record that synced cleanly).
        """
        if not found:
            return
        now = utcnow()
        urls = urls or {}
        with self.session() as session:
            existing = session.scalars(
                select(ReviewIssue).where(
                    ReviewIssue.pair == self.pair,
                    ReviewIssue.entity == entity,
                    ReviewIssue.record_id.in_(list(found)),
                )
            ).all()
            by_key = {(row.record_id, row.code): row for row in existing}
            for record_id, issues in found.items():
                codes = set()
                for issue in issues:
                    codes.add(issue.code)
                    row = by_key.get((record_id, issue.code))
                    if row is None:
                        row = ReviewIssue(
                            pair=self.pair,
                            integration=integration,
                            entity=entity,
                            record_id=record_id,
                            code=issue.code,
                            first_seen=now,
                            occurrences=0,
                        )
                        session.add(row)
                        by_key[(record_id, issue.code)] = row
                    if row.status != "open":
                        row.first_seen, row.occurrences, row.resolved_at = now, 0, None
                    row.status = "open"
                    row.message = issue.message
                    row.details = issue.details or None
                    row.label = labels.get(record_id, row.label or "")[:300]
                    row.url = urls.get(record_id)
                    row.last_seen = now
                    row.occurrences = (row.occurrences or 0) + 1
                if not resolve_others:
                    continue
                for (other_id, code), row in by_key.items():
                    if other_id == record_id and code not in codes and row.status == "open":
                        row.status, row.resolved_at = "resolved", now

    def resolve_issues(self, entity: str, record_id: str, codes: Sequence[str]) -> int:
        """Resolve the open issues ``codes`` of one record (a manual link settled them); how many."""
        with self.session() as session:
            result = session.execute(
                update(ReviewIssue)
                .where(
                    ReviewIssue.pair == self.pair,
                    ReviewIssue.entity == entity,
                    ReviewIssue.record_id == record_id,
                    ReviewIssue.code.in_(list(codes)),
                    ReviewIssue.status == "open",
                )
                .values(status="resolved", resolved_at=utcnow())
            )
            return int(cast(CursorResult[Any], result).rowcount or 0)

    def open_issues(self, *, integration: str | None = None, entity: str | None = None) -> list[ReviewIssue]:
        with self.session() as session:
            query = select(ReviewIssue).where(ReviewIssue.pair == self.pair, ReviewIssue.status == "open")
            if integration:
                query = query.where(ReviewIssue.integration == integration)
            if entity:
                query = query.where(ReviewIssue.entity == entity)
            return list(session.scalars(query.order_by(ReviewIssue.entity, ReviewIssue.label)))

    def search_issues(self, text: str | None = None, *, include_resolved: bool = False) -> list[ReviewIssue]:
        """Review issues whose record name or id contains ``text`` (case-insensitive)."""
        with self.session() as session:
            query = select(ReviewIssue).where(ReviewIssue.pair == self.pair)
            if not include_resolved:
                query = query.where(ReviewIssue.status == "open")
            if text:
                pattern = f"%{text.lower()}%"
                query = query.where(
                    or_(
                        ReviewIssue.label.ilike(pattern),
                        ReviewIssue.record_id.ilike(pattern),
                        ReviewIssue.code.ilike(pattern),
                    )
                )
            return list(session.scalars(query.order_by(ReviewIssue.last_seen.desc(), ReviewIssue.id)))
