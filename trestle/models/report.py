"""What a run did, in one JSON-able shape: the engine fills it, the email, the Prefect
artifacts, ``trestle run --json`` and the exit code all read it.

A dry run fills the same report; ``dry_run`` tells readers that "created" means
"would create".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Action = Literal["created", "updated", "unchanged", "skipped", "failed", "deleted"]
Outcome = Literal["success", "issues", "failed", "blocked", "skipped"]
COUNTED_ACTIONS: tuple[str, ...] = ("created", "updated", "unchanged", "skipped", "failed", "deleted")

_OUTCOME_RANK = {"success": 0, "skipped": 0, "issues": 1, "blocked": 1, "failed": 2}


class FieldChange(BaseModel):
    """One field of an update: what the target had (or we last sent) and what it gets."""

    field: str
    before: Any = None
    after: Any = None


class RecordOutcome(BaseModel):
    """What happened to one source record (unchanged records are only counted, not listed)."""

    action: Action
    entity: str
    label: str
    source_system: str
    source_id: str
    target_system: str
    target_id: str | None = None
    source_url: str | None = None
    target_url: str | None = None
    changes: list[FieldChange] = Field(default_factory=list)
    reason: str | None = None
    issue_codes: list[str] = Field(default_factory=list)


class IssueView(BaseModel):
    """An open review issue as a bookkeeper reads it."""

    code: str
    message: str
    entity: str
    record_id: str
    label: str
    url: str | None = None
    fix: str | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class SystemUsage(BaseModel):
    """API calls one integration made to one system, and the budget left afterwards."""

    calls: int = 0
    by_route: dict[str, int] = Field(default_factory=dict)
    remaining: dict[str, Any] = Field(default_factory=dict)


class IntegrationReport(BaseModel):
    """The result of one integration in one run."""

    integration: str
    title: str
    direction: str
    dry_run: bool = False
    started_at: datetime
    finished_at: datetime | None = None
    outcome: Outcome = "success"
    error: str | None = None
    notes: list[str] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=lambda: dict.fromkeys(COUNTED_ACTIONS, 0))
    outcomes: list[RecordOutcome] = Field(default_factory=list)
    issues: list[IssueView] = Field(default_factory=list)
    api_usage: dict[str, SystemUsage] = Field(default_factory=dict)

    @property
    def issue_count(self) -> int:
        return len(self.issues)

    @property
    def seconds(self) -> float:
        end = self.finished_at or self.started_at
        return (end - self.started_at).total_seconds()

    def add(self, outcome: RecordOutcome) -> None:
        """Count an outcome, and keep it for the report unless it is an unchanged record."""
        self.counts[outcome.action] = self.counts.get(outcome.action, 0) + 1
        if outcome.action != "unchanged":
            self.outcomes.append(outcome)


class RunReport(BaseModel):
    """One flow run: a single integration, or the nightly run with a section per integration."""

    run_id: str
    flow: str
    pair: str
    dry_run: bool = False
    started_at: datetime
    finished_at: datetime | None = None
    integrations: list[IntegrationReport] = Field(default_factory=list)
    procore_web_url: str | None = None
    xero_web_url: str | None = None
    timezone: str = "UTC"
    """The install's time zone (``TRESTLE_TIMEZONE``): summaries show times in it."""

    @property
    def outcome(self) -> Outcome:
        """The worst outcome of any integration (an empty run is a success)."""
        worst: Outcome = "success"
        for item in self.integrations:
            if _OUTCOME_RANK[item.outcome] > _OUTCOME_RANK[worst]:
                worst = item.outcome
        return worst

    @property
    def exit_code(self) -> int:
        """0 success, 1 finished with review issues, 2 failed."""
        return {"failed": 2, "issues": 1, "blocked": 1}.get(self.outcome, 0)

    @property
    def totals(self) -> dict[str, int]:
        totals = dict.fromkeys((*COUNTED_ACTIONS, "issues"), 0)
        for item in self.integrations:
            for action, count in item.counts.items():
                totals[action] = totals.get(action, 0) + count
            totals["issues"] += item.issue_count
        return totals

    @property
    def api_calls(self) -> dict[str, int]:
        calls: dict[str, int] = {}
        for item in self.integrations:
            for system, usage in item.api_usage.items():
                calls[system] = calls.get(system, 0) + usage.calls
        return calls

    def summary_dict(self) -> dict[str, Any]:
        """The ``trestle run --json`` shape: counts, issues and API calls per integration, and the
        outcome; a dry run adds each integration's ``planned`` writes, field by field."""
        return {
            "run_id": self.run_id,
            "flow": self.flow,
            "pair": self.pair,
            "dry_run": self.dry_run,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "totals": self.totals,
            "api_calls": self.api_calls,
            "integrations": {
                item.integration: {
                    "outcome": item.outcome,
                    "error": item.error,
                    "notes": item.notes,
                    **{action: item.counts.get(action, 0) for action in COUNTED_ACTIONS},
                    "review_issues": item.issue_count,
                    "issue_codes": sorted({issue.code for issue in item.issues}),
                    "api_calls": {system: usage.calls for system, usage in item.api_usage.items()},
                    "api_remaining": {system: usage.remaining for system, usage in item.api_usage.items()},
                    "seconds": round(item.seconds, 3),
                    **({"planned": planned_changes(item)} if self.dry_run or item.dry_run else {}),
                }
                for item in self.integrations
            },
        }


def planned_changes(item: IntegrationReport) -> list[dict[str, Any]]:
    """What a dry run would write: each record it would create, update or delete, with the fields
    an update would change (``before`` is what the target has now)."""
    return [
        {
            "action": outcome.action,
            "entity": outcome.entity,
            "record": outcome.label,
            "source_id": outcome.source_id,
            "target_id": outcome.target_id,
            "changes": [change.model_dump(mode="json") for change in outcome.changes],
        }
        for outcome in item.outcomes
        if outcome.action in ("created", "updated", "deleted")
    ]
