"""The run report reshaped for reading: what every summary (email HTML, email text, Prefect
markdown) shows, computed once so the templates only lay it out.

Reading order is the accountant's: first what needs action (review issues grouped by code, with
what the code means and how to fix it, then the records under it; records that could not be
written for another reason; integrations that failed), then what is only waiting (not approved
yet, nothing to bill), then what changed — counts per integration with the first few records.
The full list of records goes into the CSV attachment (:mod:`trestle.notifications.records`).

A record appears once: a skipped record that carries a review issue is listed under its issue,
not again under "not written".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from trestle.models.report import COUNTED_ACTIONS, IntegrationReport, IssueView, RecordOutcome, RunReport
from trestle.notifications.issues import is_waiting, issue_fix, issue_meaning
from trestle.notifications.words import (
    budget_words,
    field_words,
    is_link_field,
    show_time,
    show_value,
    zone,
)
from trestle.tasks.declaration import SYSTEM_NAMES

FIRST_RECORDS = 5
"""Records shown per action and integration under "What changed"; the CSV has them all."""
ISSUE_RECORDS = 25
"""Records shown under each review issue code; ``trestle review --code CODE`` lists them all."""
WAITING_RECORDS = 10
"""Records shown under each waiting code."""

_PAST_VERBS = {action: action for action in (*COUNTED_ACTIONS, "issues")}
_DRY_RUN_VERBS = {**_PAST_VERBS, "created": "would create", "updated": "would update", "deleted": "would delete"}
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


def show_duration(seconds: float) -> str:
    """``75.2`` → ``1 min 15 s``; short runs keep a decimal so they do not all read ``0 s``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def verb(action: str, dry_run: bool) -> str:
    """The word for an action: ``created``, or ``would create`` on a dry run."""
    return (_DRY_RUN_VERBS if dry_run else _PAST_VERBS).get(action, action)


def web_url(url: str | None) -> str | None:
    """``url`` if it is an http(s) address, else None: only web links are ever made clickable."""
    return url if url and url.startswith(("https://", "http://")) else None


@dataclass(frozen=True)
class Link:
    """A link to a record in one system's web app."""

    system: str
    url: str


@dataclass(frozen=True)
class Change:
    """One changed field, named and valued in words."""

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
    linked: str | None = None
    """"now linked to its Xero record" when this write made the link, else None."""


@dataclass(frozen=True)
class IssueRecord:
    """One record under a review issue code."""

    label: str
    entity: str
    url: str | None
    message: str
    first_seen: str


@dataclass
class IssueGroup:
    """One code (or "could not be written") of one integration, with the records under it."""

    integration: str
    code: str
    meaning: str
    fix: str | None
    count: int
    records: list[Any]
    hidden: int = 0


@dataclass
class Table:
    """The first rows of one kind; ``hidden`` says how many more the CSV holds."""

    title: str
    rows: list[RecordRow]
    hidden: int = 0


@dataclass
class IntegrationView:
    """One integration's part of "What changed"."""

    name: str
    title: str
    direction: str
    outcome: str
    outcome_label: str
    notes: list[str]
    counts: list[tuple[str, int]]
    duration: str
    tables: list[Table]


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
    problems: int
    waiting_count: int
    action_count: int = 0
    """Records under "Needs action": open problems plus records not written for another reason."""
    errors: list[tuple[str, str]] = field(default_factory=list)
    action: list[IssueGroup] = field(default_factory=list)
    waiting: list[IssueGroup] = field(default_factory=list)
    integrations: list[IntegrationView] = field(default_factory=list)
    budgets: list[str] = field(default_factory=list)
    api_calls: list[tuple[str, int]] = field(default_factory=list)


def _links(outcome: RecordOutcome) -> list[Link]:
    pairs = ((outcome.source_system, outcome.source_url), (outcome.target_system, outcome.target_url))
    return [Link(system_name(system), link) for system, url in pairs if (link := web_url(url))]


def record_row(outcome: RecordOutcome, dry_run: bool) -> RecordRow:
    """One outcome in words: link fields become "linked", every other field is named for a person."""
    shown = [c for c in outcome.changes if not is_link_field(c.field)]
    made_link = any(is_link_field(c.field) and not c.before and c.after for c in outcome.changes)
    linked = f"now linked to its {system_name(outcome.source_system)} record" if made_link else None
    return RecordRow(
        status=verb(outcome.action, dry_run),
        label=outcome.label,
        entity=outcome.entity,
        links=_links(outcome),
        changes=[Change(field_words(c.field), show_value(c.before), show_value(c.after)) for c in shown],
        reason=outcome.reason,
        linked=linked,
    )


def _issue_record(issue: IssueView, tz: ZoneInfo) -> IssueRecord:
    return IssueRecord(
        label=issue.label,
        entity=issue.entity,
        url=web_url(issue.url),
        message=issue.message,
        first_seen=show_time(issue.first_seen, tz) if issue.first_seen else "this run",
    )


def _groups(item: IntegrationReport, waiting: bool, limit: int, tz: ZoneInfo) -> list[IssueGroup]:
    by_code: dict[str, list[IssueView]] = {}
    for issue in item.issues:
        if is_waiting(issue.code) == waiting:
            by_code.setdefault(issue.code, []).append(issue)
    groups = []
    for code, issues in sorted(by_code.items(), key=lambda pair: (-len(pair[1]), pair[0])):
        records = [_issue_record(issue, tz) for issue in sorted(issues, key=lambda i: i.label.casefold())]
        groups.append(
            IssueGroup(
                integration=item.title,
                code=code,
                meaning=issue_meaning(code),
                fix=issue_fix(code, issues[0].fix),
                count=len(issues),
                records=records[:limit],
                hidden=max(0, len(records) - limit),
            )
        )
    return groups


def not_written(item: IntegrationReport) -> list[RecordOutcome]:
    """Failed or skipped records that no review issue already names (each record is listed once)."""
    with_issues = {issue.record_id for issue in item.issues}
    return [
        outcome
        for outcome in item.outcomes
        if outcome.action in ("failed", "skipped") and outcome.source_id not in with_issues and not outcome.issue_codes
    ]


def _not_written_group(item: IntegrationReport, dry_run: bool, limit: int) -> IssueGroup | None:
    rows = [record_row(outcome, dry_run) for outcome in not_written(item)]
    if not rows:
        return None
    return IssueGroup(
        integration=item.title,
        code="",
        meaning="These records could not be written; the reason is given for each.",
        fix="The next run tries them again; correct the record if the reason names something in it.",
        count=len(rows),
        records=rows[:limit],
        hidden=max(0, len(rows) - limit),
    )


def _tables(item: IntegrationReport, dry_run: bool, limit: int) -> list[Table]:
    tables = []
    for action in ("created", "updated", "deleted"):
        rows = [record_row(o, dry_run) for o in item.outcomes if o.action == action]
        if rows:
            tables.append(Table(verb(action, dry_run).capitalize(), rows[:limit], max(0, len(rows) - limit)))
    return tables


def _counts(counts: dict[str, int], problems: int, waiting: int, dry_run: bool) -> list[tuple[str, int]]:
    shown = [
        (verb(action, dry_run), counts.get(action, 0))
        for action in COUNTED_ACTIONS
        if action != "deleted" or counts.get(action, 0)
    ]
    shown.append(("issues", problems))
    if waiting:
        shown.append(("waiting", waiting))
    return shown


def _split(item: IntegrationReport) -> tuple[int, int]:
    waiting = sum(1 for issue in item.issues if is_waiting(issue.code))
    return len(item.issues) - waiting, waiting


def _integration_view(item: IntegrationReport, dry_run: bool, limit: int) -> IntegrationView:
    problems, waiting = _split(item)
    return IntegrationView(
        name=item.integration,
        title=item.title,
        direction=item.direction,
        outcome=item.outcome,
        outcome_label=OUTCOME_LABELS.get(item.outcome, item.outcome),
        notes=list(item.notes),
        counts=_counts(item.counts, problems, waiting, dry_run),
        duration=show_duration(item.seconds),
        tables=_tables(item, dry_run, limit),
    )


def _budgets(report: RunReport, tz: ZoneInfo) -> list[str]:
    """The budget each system reported last in the run, in words."""
    last: dict[str, dict[str, Any]] = {}
    for item in report.integrations:
        for system, usage in item.api_usage.items():
            if usage.remaining:
                last[system] = usage.remaining
    sentences = (budget_words(system, remaining, tz) for system, remaining in sorted(last.items()))
    return [sentence for sentence in sentences if sentence]


def problem_count(report: RunReport) -> int:
    """Open review issues that need someone, waiting states left out (what the subject counts)."""
    return sum(_split(item)[0] for item in report.integrations)


def build_view(
    report: RunReport,
    *,
    first_records: int = FIRST_RECORDS,
    issue_records: int = ISSUE_RECORDS,
    waiting_records: int = WAITING_RECORDS,
) -> SummaryView:
    """Reshape ``report`` for the templates, in its time zone, with the given caps on records shown."""
    tz = zone(report.timezone)
    ends = [item.finished_at for item in report.integrations if item.finished_at]
    finished: datetime = report.finished_at or max(ends, default=report.started_at)
    totals = report.totals
    waiting_count = sum(_split(item)[1] for item in report.integrations)
    problems = problem_count(report)
    view = SummaryView(
        run_id=report.run_id,
        flow=report.flow,
        pair=report.pair,
        dry_run=report.dry_run,
        outcome=report.outcome,
        outcome_label=OUTCOME_LABELS.get(report.outcome, report.outcome),
        started=show_time(report.started_at, tz),
        finished=show_time(report.finished_at, tz),
        duration=show_duration((finished - report.started_at).total_seconds()),
        totals=_counts(totals, problems, waiting_count, report.dry_run),
        problems=problems,
        waiting_count=waiting_count,
        budgets=_budgets(report, tz),
        api_calls=[(system_name(system), calls) for system, calls in report.api_calls.items()],
    )
    for item in report.integrations:
        dry_run = report.dry_run or item.dry_run
        if item.error:
            view.errors.append((item.title, item.error))
        view.action.extend(_groups(item, False, issue_records, tz))
        if group := _not_written_group(item, dry_run, issue_records):
            view.action.append(group)
        view.waiting.extend(_groups(item, True, waiting_records, tz))
        view.integrations.append(_integration_view(item, dry_run, first_records))
    view.action_count = sum(group.count for group in view.action)
    return view
