"""What the portal's pages show, read from the link store (read only) for the pairs a person may see.

- :func:`review`: review issues, searchable, grouped by code with each integration's fix.
- :func:`record`: one record's link, last payload field by field, issues past and present, and the
  runs that touched it.
- :func:`recent_runs`: the latest runs per pair and flow.

Every function takes the ``pairs`` to read and never returns a row of another pair.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session as DbSession

from trestle.integrations import REGISTRY, integration
from trestle.links import WebLinks
from trestle.models.store import LinkStore
from trestle.models.tables import Link, ReviewIssue, Run, WriteIntent
from trestle.settings import TrestleSettings
from trestle.tasks.engine import Integration
from trestle.timeutil import to_utc


@dataclass
class IssueRow:
    """One review issue as the review and record pages list it."""

    pair: str
    integration: str
    entity: str
    record_id: str
    label: str
    code: str
    message: str
    status: str
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    details: dict[str, Any]
    links: dict[str, str]


@dataclass
class IssueGroup:
    """The issues sharing one code, with what it means for the integration and how to fix it."""

    code: str
    integration: str
    title: str
    fix: str | None
    issues: list[IssueRow] = field(default_factory=list)


@dataclass
class RecordView:
    pair: str
    integration: str
    title: str
    entity: str
    record_id: str
    label: str
    source_system: str
    target_system: str
    target_id: str | None
    links: dict[str, str]
    last_payload: dict[str, Any] | None
    last_sent_at: datetime | None
    issues: list[IssueRow]
    runs: list[Run]


@cache
def _by_entity() -> dict[str, type[Integration]]:
    return {integration(name).entity: integration(name) for name in REGISTRY}


def integration_for(entity: str) -> type[Integration] | None:
    """The integration that owns records of ``entity``."""
    return _by_entity().get(entity)


class PairLinks:
    """Web links to both systems' records for one pair, built the way the integrations build them."""

    def __init__(self, settings: TrestleSettings, engine: Engine) -> None:
        self.web = WebLinks(settings.procore.web_url, settings.procore.company_id, settings.xero.web_url)
        # The integrations' own target_url() builds the other side's link; they need only a
        # run context's links, store, settings and cache for that.
        self._ctx = SimpleNamespace(links=self.web, store=LinkStore(engine, settings.pair), settings=settings, cache={})
        self._instances: dict[str, Integration] = {}

    def target_url(self, cls: type[Integration], target_id: str) -> str | None:
        try:
            instance = self._instances.get(cls.name) or self._instances.setdefault(cls.name, cls(self._ctx))  # type: ignore[arg-type]
            return instance.target_url(target_id)
        except Exception:  # an integration needing run state for its links: no link rather than no page
            return None

    def for_record(
        self,
        cls: type[Integration],
        source_id: str,
        source_url: str | None,
        target_id: str | None,
        details: dict[str, Any],
    ) -> dict[str, str]:
        """``{system: url}``: the source record, and the target (linked, or named by an issue)."""
        links: dict[str, str] = {}
        source_url = source_url or _source_url(self.web, cls, source_id)
        if source_url:
            links[cls.source_system] = source_url
        candidates = [target_id] if target_id else _named_targets(cls, details)
        for candidate in candidates:
            if url := self.target_url(cls, str(candidate)):
                links[cls.target_system] = url
                break
        return links


def _named_targets(cls: type[Integration], details: dict[str, Any]) -> list[Any]:
    """Target records an issue names in its details (``vendor_id``, ``candidates``) though unlinked."""
    named = [details[f"{cls.entity}_id"]] if details.get(f"{cls.entity}_id") else []
    for candidate in details.get("candidates") or []:
        if isinstance(candidate, dict) and candidate.get("id"):
            named.append(candidate["id"])
    return named


def _issue_row(row: ReviewIssue, links: PairLinks | None, target_id: str | None = None) -> IssueRow:
    cls = integration_for(row.entity)
    details = row.details or {}
    return IssueRow(
        pair=row.pair,
        integration=row.integration,
        entity=row.entity,
        record_id=row.record_id,
        label=row.label,
        code=row.code,
        message=row.message,
        status=row.status,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        resolved_at=row.resolved_at,
        details=details,
        links=links.for_record(cls, row.record_id, row.url, target_id, details) if links and cls else {},
    )


def _targets(db: DbSession, pair: str, rows: Iterable[ReviewIssue]) -> dict[tuple[str, str], str]:
    """The linked target id of each (entity, source id) among ``rows`` (one query per entity)."""
    wanted: dict[str, set[str]] = {}
    for row in rows:
        wanted.setdefault(row.entity, set()).add(row.record_id)
    targets: dict[tuple[str, str], str] = {}
    for entity, ids in wanted.items():
        cls = integration_for(entity)
        if cls is None:
            continue
        column = Link.procore_id if cls.source_system == "procore" else Link.xero_id
        query = select(Link).where(Link.pair == pair, Link.entity == entity, column.in_(sorted(ids)))
        for link in db.scalars(query):
            source_id = link.procore_id if cls.source_system == "procore" else link.xero_id
            targets[(entity, source_id)] = _target_of(cls, link)
    return targets


def _link(db: DbSession, pair: str, cls: type[Integration], source_id: str) -> Link | None:
    column = Link.procore_id if cls.source_system == "procore" else Link.xero_id
    return db.scalars(select(Link).where(Link.pair == pair, Link.entity == cls.entity, column == source_id)).first()


def _target_of(cls: type[Integration], link: Link) -> str:
    return link.xero_id if cls.target_system == "xero" else link.procore_id


def review(
    engine: Engine,
    pairs: dict[str, PairLinks],
    text: str = "",
    *,
    resolved: bool = False,
) -> list[IssueGroup]:
    """Issues (open, or ``resolved``) of ``pairs`` matching ``text`` in name, id, code or integration."""
    status = "resolved" if resolved else "open"
    with DbSession(engine) as db:
        query = select(ReviewIssue).where(ReviewIssue.pair.in_(list(pairs)), ReviewIssue.status == status)
        if text.strip():
            pattern = f"%{text.strip().lower()}%"
            query = query.where(
                or_(
                    ReviewIssue.label.ilike(pattern),
                    ReviewIssue.record_id.ilike(pattern),
                    ReviewIssue.code.ilike(pattern),
                    ReviewIssue.integration.ilike(pattern),
                )
            )
        rows = list(db.scalars(query.order_by(ReviewIssue.code, ReviewIssue.label, ReviewIssue.id).limit(2000)))
        targets = {pair: _targets(db, pair, [row for row in rows if row.pair == pair]) for pair in pairs}
    groups: dict[str, IssueGroup] = {}
    for row in rows:
        cls = integration_for(row.entity)
        group = groups.get(row.code)
        if group is None:
            fix = (cls.issue_fixes.get(row.code) if cls else None) or _any_fix(row.code)
            title = cls.title if cls else row.integration
            group = groups[row.code] = IssueGroup(row.code, row.integration, title, fix)
        group.issues.append(_issue_row(row, pairs[row.pair], targets[row.pair].get((row.entity, row.record_id))))
    return list(groups.values())


def _any_fix(code: str) -> str | None:
    """A run-level code's fix, from whichever integration declares it."""
    for name in REGISTRY:
        if fix := integration(name).issue_fixes.get(code):
            return fix
    return None


def record(engine: Engine, links: PairLinks, pair: str, entity: str, record_id: str) -> RecordView | None:
    """One source record of ``pair``: None when neither a link nor an issue knows it."""
    cls = integration_for(entity)
    if cls is None:
        return None
    with DbSession(engine) as db:
        link = _link(db, pair, cls, record_id)
        issue_rows = list(
            db.scalars(
                select(ReviewIssue)
                .where(ReviewIssue.pair == pair, ReviewIssue.entity == entity, ReviewIssue.record_id == record_id)
                .order_by(ReviewIssue.status, ReviewIssue.last_seen.desc())
            )
        )
        if link is None and not issue_rows:
            return None
        intents = list(
            db.scalars(
                select(WriteIntent).where(
                    WriteIntent.pair == pair, WriteIntent.entity == entity, WriteIntent.source_id == record_id
                )
            )
        )
        moments = [intent.created_at for intent in intents]
        moments += [
            moment for row in issue_rows for moment in (row.first_seen, row.last_seen, row.resolved_at) if moment
        ]
        if link is not None:
            moments += [link.created_at, link.updated_at]
        runs = _runs_at(db, pair, moments)
    target_id = _target_of(cls, link) if link else None
    issues = [_issue_row(row, links, target_id) for row in issue_rows]
    source_url = next((row.url for row in issue_rows if row.url), None)
    named: dict[str, Any] = {}  # what the issues say about the other side, newest last so it wins
    for row in reversed(issue_rows):
        named.update(row.details or {})
    return RecordView(
        pair=pair,
        integration=cls.name,
        title=cls.title,
        entity=entity,
        record_id=record_id,
        label=(link.label if link else "") or (issue_rows[0].label if issue_rows else record_id),
        source_system=cls.source_system,
        target_system=cls.target_system,
        target_id=target_id,
        links=links.for_record(cls, record_id, source_url, target_id, named),
        last_payload=link.last_payload if link else None,
        last_sent_at=link.updated_at if link else None,
        issues=issues,
        runs=runs,
    )


def _source_url(web: WebLinks, cls: type[Integration], record_id: str) -> str | None:
    """The source record's page when no issue stored it (only where the id alone is enough)."""
    if cls.entity == "vendor":
        return web.xero_contact(record_id)
    if cls.entity == "project":
        return web.procore_project(record_id)
    return None


def _runs_at(db: DbSession, pair: str, moments: list[datetime]) -> list[Run]:
    """Runs of ``pair`` that were under way at any of ``moments`` (a write, an issue seen, a link made)."""
    if not moments:
        return []
    moments = [to_utc(moment) for moment in moments]
    start, end = min(moments), max(moments)
    candidates = db.scalars(
        select(Run).where(Run.pair == pair, Run.started_at <= end).order_by(Run.started_at.desc()).limit(500)
    )
    touched = []
    for run in candidates:
        finished = to_utc(run.finished_at) if run.finished_at else None
        began = to_utc(run.started_at)
        if finished is not None and finished < start:
            continue
        if any(began <= moment and (finished is None or moment <= finished) for moment in moments):
            touched.append(run)
    return touched


def recent_runs(engine: Engine, pairs: Iterable[str], limit: int = 50) -> list[Run]:
    """The latest runs of ``pairs``, newest first."""
    with DbSession(engine) as db:
        query = select(Run).where(Run.pair.in_(list(pairs))).order_by(Run.started_at.desc()).limit(limit)
        return list(db.scalars(query))


def run_totals(run: Run) -> dict[str, int]:
    """A run's counts (created, updated, …, issues) from its stored summary."""
    totals = (run.summary or {}).get("totals") or {}
    return {key: int(value) for key, value in totals.items() if isinstance(value, int | float)}


def run_seconds(run: Run) -> float | None:
    if run.finished_at is None:
        return None
    return (to_utc(run.finished_at) - to_utc(run.started_at)).total_seconds()
