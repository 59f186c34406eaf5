"""The run report reshaped for reading: what every summary (email HTML, email text, Prefect
markdown) shows, computed once so the templates only lay it out.

Templates stay free of logic that could drift between the HTML and the text part: labels,
verbs for dry runs, row caps and link lists are all decided here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from trestle.models.report import COUNTED_ACTIONS, IntegrationReport, IssueView, RecordOutcome, RunReport
from trestle.tasks.declaration import SYSTEM_NAMES

ROW_LIMIT = 200
"""Most rows shown in any one table; the rest are counted and pointed at."""

_PAST_VERBS = {
    "created": "created",
    "updated": "updated",
    "unchanged": "unchanged",
    "skipped": "skipped",
    "failed": "failed",
    "deleted": "deleted",
    "issues": "issues",
}
_DRY_RUN_VERBS = {
    **_PAST_VERBS,
    "created": "would create",
    "updated": "would update",
    "deleted": "would delete",
}
OUTCOME_LABELS = {
    "success": "Success",
    "issues": "Finished with issues",
    "failed": "FAILED",
    "blocked": "Blocked",
    "skipped": "Not run",
}


def system_name(system: str) -> str:
    """``procore`` → ``Procore``; unknown systems are shown capitalised."""
    return SYSTEM_NAMES.get(system.lower(), system.capitalize())


def show_value(value: Any) -> str:
    """A field value as a bookkeeper reads it: money and text as given, nothing shown as ``(empty)``."""
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal | int | float | str):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, list | tuple):
        return ", ".join(show_value(item) for item in value)
    return str(value)


def show_time(moment: datetime | None) -> str:
    """A timestamp to the minute with its zone, or a dash when unknown."""
    if moment is None:
        return "–"
    zone = moment.strftime(" %Z") if moment.tzinfo else ""
    return moment.strftime("%Y-%m-%d %H:%M") + zone


def show_duration(seconds: float) -> str:
    """``75.2`` → ``1 min 15 s``; short runs keep a decimal so they do not all read ``0 s``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


@dataclass(frozen=True)
class Link:
    """A link to a record in one system's web app."""

    system: str
    url: str


@dataclass(frozen=True)
class Change:
    """One changed field, values already turned into text."""

    field: str
    before: str
    after: str


@dataclass(frozen=True)
class RecordRow:
    """One written, skipped or failed record."""

    status: str
    label: str
    entity: str
    links: list[Link]
    changes: list[Change]
    reason: str | None
    issue_codes: list[str]


@dataclass(frozen=True)
class IssueRow:
    """One open review issue."""

    code: str
    message: str
    entity: str
    label: str
    url: str | None
    fix: str | None
    first_seen: str
    last_seen: str


@dataclass
class Table:
    """Rows of one kind, capped at the row limit; ``hidden`` says how many were left out."""

    title: str
    rows: list[Any]
    hidden: int = 0


@dataclass(frozen=True)
class UsageRow:
    """API calls one integration made to one system and what budget was left."""

    system: str
    calls: int
    remaining: str


@dataclass
class IntegrationView:
    """One integration's section of the summary."""

    name: str
    title: str
    direction: str
    outcome: str
    outcome_label: str
    error: str | None
    notes: list[str]
    counts: list[tuple[str, int]]
    duration: str
    record_tables: list[Table]
    issues: Table
    usage: list[UsageRow]


@dataclass
class SummaryView:
    """Everything a summary shows, in reading order."""

    run_id: str
    flow: str
    pair: str
    dry_run: bool
    outcome: str
    outcome_label: str
    started: str
    finished: str
    duration: str
    totals: list[tuple[str, int]]
    api_calls: list[tuple[str, int]]
    integrations: list[IntegrationView] = field(default_factory=list)


def verb(action: str, dry_run: bool) -> str:
    """The word for an action: ``created``, or ``would create`` on a dry run."""
    return (_DRY_RUN_VERBS if dry_run else _PAST_VERBS).get(action, action)


def web_url(url: str | None) -> str | None:
    """``url`` if it is an http(s) address, else None: only web links are ever made clickable."""
    return url if url and url.startswith(("https://", "http://")) else None


def _links(outcome: RecordOutcome) -> list[Link]:
    pairs = ((outcome.source_system, outcome.source_url), (outcome.target_system, outcome.target_url))
    return [Link(system_name(system), url) for system, url in pairs if web_url(url)]


def _record_row(outcome: RecordOutcome, dry_run: bool) -> RecordRow:
    return RecordRow(
        status=verb(outcome.action, dry_run),
        label=outcome.label,
        entity=outcome.entity,
        links=_links(outcome),
        changes=[Change(c.field, show_value(c.before), show_value(c.after)) for c in outcome.changes],
        reason=outcome.reason,
        issue_codes=list(outcome.issue_codes),
    )


def _issue_row(issue: IssueView) -> IssueRow:
    return IssueRow(
        code=issue.code,
        message=issue.message,
        entity=issue.entity,
        label=issue.label,
        url=web_url(issue.url),
        fix=issue.fix,
        first_seen=show_time(issue.first_seen),
        last_seen=show_time(issue.last_seen),
    )


def _capped(title: str, rows: list[Any], limit: int) -> Table:
    return Table(title=title, rows=rows[:limit], hidden=max(0, len(rows) - limit))


def _record_tables(item: IntegrationReport, dry_run: bool, limit: int) -> list[Table]:
    tables = []
    for action in ("created", "updated", "deleted"):
        rows = [_record_row(o, dry_run) for o in item.outcomes if o.action == action]
        if rows:
            tables.append(_capped(verb(action, dry_run).capitalize(), rows, limit))
    # Failures first: they are what someone has to act on this morning.
    not_written = [_record_row(o, dry_run) for o in item.outcomes if o.action == "failed"]
    not_written += [_record_row(o, dry_run) for o in item.outcomes if o.action == "skipped"]
    if not_written:
        tables.append(_capped("Skipped and failed", not_written, limit))
    return tables


def _usage(item: IntegrationReport) -> list[UsageRow]:
    rows = []
    for system, usage in item.api_usage.items():
        remaining = ", ".join(f"{key}: {show_value(value)}" for key, value in usage.remaining.items())
        rows.append(UsageRow(system_name(system), usage.calls, remaining or "–"))
    return rows


def _integration_view(item: IntegrationReport, dry_run: bool, limit: int) -> IntegrationView:
    counts = [
        (verb(action, dry_run), item.counts.get(action, 0))
        for action in COUNTED_ACTIONS
        if action != "deleted" or item.counts.get(action, 0)
    ]
    return IntegrationView(
        name=item.integration,
        title=item.title,
        direction=item.direction,
        outcome=item.outcome,
        outcome_label=OUTCOME_LABELS.get(item.outcome, item.outcome),
        error=item.error,
        notes=list(item.notes),
        counts=[*counts, ("issues", item.issue_count)],
        duration=show_duration(item.seconds),
        record_tables=_record_tables(item, dry_run, limit),
        issues=_capped("Review issues", [_issue_row(issue) for issue in item.issues], limit),
        usage=_usage(item),
    )


def build_view(report: RunReport, row_limit: int = ROW_LIMIT) -> SummaryView:
    """Reshape ``report`` for the templates, capping every table at ``row_limit`` rows."""
    totals = report.totals
    shown_totals = [
        (verb(action, report.dry_run), totals.get(action, 0))
        for action in (*COUNTED_ACTIONS, "issues")
        if action != "deleted" or totals.get(action, 0)
    ]
    ends = [item.finished_at for item in report.integrations if item.finished_at]
    finished = report.finished_at or max(ends, default=report.started_at)
    return SummaryView(
        run_id=report.run_id,
        flow=report.flow,
        pair=report.pair,
        dry_run=report.dry_run,
        outcome=report.outcome,
        outcome_label=OUTCOME_LABELS.get(report.outcome, report.outcome),
        started=show_time(report.started_at),
        finished=show_time(report.finished_at),
        duration=show_duration((finished - report.started_at).total_seconds()),
        totals=shown_totals,
        api_calls=[(system_name(system), calls) for system, calls in report.api_calls.items()],
        integrations=[
            _integration_view(item, report.dry_run or item.dry_run, row_limit) for item in report.integrations
        ],
    )
