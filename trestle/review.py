"""``trestle review``: the open review issues, grouped the way someone works through them.

Grouped by integration, then by code (most records first); each code's meaning and fix is shown
once, then the records under it. Filters narrow by integration, code, age and free text (record
name, id or code); the pair is chosen as for every command (``--pair``). Issues open longer than
``TRESTLE_REVIEW_STALE_DAYS`` are flagged. ``--json`` prints one object per issue, carrying the
same meaning and fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from trestle.models.tables import ReviewIssue
from trestle.notifications.issues import is_waiting, issue_fix, issue_meaning
from trestle.notifications.words import show_time, zone
from trestle.timeutil import to_utc


@dataclass(frozen=True)
class ReviewFilter:
    """What to list: free text, one integration, one code, issues older than some days, resolved too."""

    text: str | None = None
    integration: str | None = None
    code: str | None = None
    older_than_days: int | None = None
    include_resolved: bool = False

    def keeps(self, issue: ReviewIssue, now: datetime) -> bool:
        """Whether ``issue`` passes every filter that is set."""
        if self.integration and issue.integration != self.integration.replace("-", "_"):
            return False
        if self.code and issue.code != self.code:
            return False
        return not (self.older_than_days is not None and age(issue, now) < timedelta(days=self.older_than_days))


def age(issue: ReviewIssue, now: datetime) -> timedelta:
    """How long ``issue`` has been open (stored times are UTC, naive on SQLite)."""
    return now - to_utc(issue.first_seen)


def load_issues(store: Any, wanted: ReviewFilter, now: datetime | None = None) -> list[ReviewIssue]:
    """The pair's issues that pass ``wanted``, from ``store`` (a :class:`~trestle.models.store.LinkStore`)."""
    now = now or datetime.now(UTC)
    found = store.search_issues(wanted.text, include_resolved=wanted.include_resolved)
    return [issue for issue in found if wanted.keeps(issue, now)]


def issue_rows(issues: Sequence[ReviewIssue], stale_days: int, now: datetime | None = None) -> list[dict[str, Any]]:
    """The ``--json`` shape: one object per issue, with its code's meaning and fix and whether it is stale."""
    now = now or datetime.now(UTC)
    return [
        {
            "code": issue.code,
            "meaning": issue_meaning(issue.code),
            "fix": issue_fix(issue.code),
            "waiting": is_waiting(issue.code),
            "status": issue.status,
            "integration": issue.integration,
            "entity": issue.entity,
            "record_id": issue.record_id,
            "record": issue.label,
            "message": issue.message,
            "url": issue.url,
            "first_seen": issue.first_seen.isoformat(),
            "last_seen": issue.last_seen.isoformat(),
            "days_open": age(issue, now).days,
            "stale": issue.status == "open" and age(issue, now) > timedelta(days=stale_days),
            "resolved_at": issue.resolved_at.isoformat() if issue.resolved_at else None,
        }
        for issue in issues
    ]


def _grouped(issues: Sequence[ReviewIssue]) -> dict[str, dict[str, list[ReviewIssue]]]:
    """integration → code → issues, integrations in run order and codes with the most records first."""
    from trestle.integrations import REGISTRY

    order = {name: position for position, name in enumerate(REGISTRY)}
    groups: dict[str, dict[str, list[ReviewIssue]]] = {}
    for issue in sorted(issues, key=lambda i: (order.get(i.integration, len(order)), i.label.casefold())):
        groups.setdefault(issue.integration, {}).setdefault(issue.code, []).append(issue)
    return {
        name: dict(sorted(codes.items(), key=lambda pair: (is_waiting(pair[0]), -len(pair[1]), pair[0])))
        for name, codes in groups.items()
    }


def _title(name: str) -> str:
    from trestle.integrations import REGISTRY, integration

    return integration(name).title if name in REGISTRY else name.replace("_", " ").capitalize()


def format_review(
    issues: Sequence[ReviewIssue], stale_days: int, timezone: str | None = None, now: datetime | None = None
) -> str:
    """The issues as text for a terminal: counts per integration and code, meaning and fix once per code."""
    now = now or datetime.now(UTC)
    tz = zone(timezone)
    waiting = sum(1 for issue in issues if is_waiting(issue.code))
    stale = sum(1 for issue in issues if issue.status == "open" and age(issue, now) > timedelta(days=stale_days))
    lines = [
        f"{len(issues)} review issue(s): {len(issues) - waiting} need action, {waiting} waiting"
        + (f", {stale} open more than {stale_days} days (marked STALE)" if stale else "")
    ]
    for name, codes in _grouped(issues).items():
        total = sum(len(group) for group in codes.values())
        lines += ["", f"{_title(name)} ({total})"]
        for code, group in codes.items():
            kind = " — waiting, not a problem" if is_waiting(code) else ""
            lines.append(f"  {code} ({len(group)}){kind}: {issue_meaning(code)}")
            if fix := issue_fix(code):
                lines.append(f"    How to fix it: {fix}")
            for issue in group:
                flags = []
                if issue.status != "open":
                    flags.append(f"{issue.status} {show_time(issue.resolved_at, tz)}")
                elif age(issue, now) > timedelta(days=stale_days):
                    flags.append(f"STALE: open {age(issue, now).days} days")
                flag = f" [{'; '.join(flags)}]" if flags else ""
                lines.append(f"    - {issue.label} ({issue.entity} {issue.record_id}){flag}")
                lines.append(f"      {issue.message}")
                link = f" · {issue.url}" if issue.url else ""
                lines.append(f"      since {show_time(issue.first_seen, tz)}{link}")
    return "\n".join(lines)
