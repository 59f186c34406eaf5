"""Nightly flow: every enabled integration, in dependency order, one task run each; one email.

Each integration is one named task run (:func:`~trestle.flows.integrations.integration_task`)
ending in its state, with its artifacts and its stages beneath it: not a subflow, whose start and
end cost API round trips (about 1 s each on a busy machine, 9 s a night) where a task run's cost
events. The integrations share one :class:`~trestle.tasks.context.NightScope`: one API client (and so one
token and one pacer) per system, and the reads that cannot change during the night.

An integration whose prerequisite failed is skipped (and says why); independent ones still
run. The night's summary email and artifacts have a section per integration.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import State, flow
from prefect.states import Completed

from trestle.flows.common import execute, final_state, report_of, summaries_in_background
from trestle.flows.guard import superseded_reason
from trestle.flows.integrations import integration_task
from trestle.integrations import integration, registry
from trestle.models.report import IntegrationReport
from trestle.settings import load_settings
from trestle.tasks.context import night_scope, shared_planned_links


@flow(name="nightly", description="All enabled integrations in dependency order, one summary email.")
def nightly_flow(
    dry_run: bool = False,
    full_refresh: bool = False,
    notify: bool = True,
    integrations: list[str] | None = None,
    pair: str | None = None,
) -> State:
    """Run every enabled integration (``sync.integrations``, or ``integrations``), one task run each.

    Order: each integration after those it ``depends_on`` (see :func:`trestle.integrations.registry`).
    A failed integration skips the ones that depend on it, not the others. ``pair`` names the
    Procore company / Xero tenant pair (default: TRESTLE_PAIR).
    """
    if reason := superseded_reason():
        return Completed(message=reason)
    settings = load_settings(pair)
    settings.require_connections()
    wanted = integrations or settings.sync.integrations
    known = registry()
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise ValueError(f"unknown integration(s): {', '.join(unknown)}")
    reports: list[IntegrationReport] = []
    failed: set[str] = set()
    # a dry night's integrations see the links the ones before would have made; all share one token,
    # one client and the reads that cannot change tonight (a project's cost codes, contacts)
    with shared_planned_links(), night_scope() as night:
        night.settings[settings.pair] = settings
        with summaries_in_background():  # one integration's artifacts go out while the next runs
            for name in [name for name in known if name in wanted]:
                broken = [dep for dep in known[name].depends_on if dep in failed]
                if broken:
                    reports.append(_skipped(name, broken, dry_run))
                    failed.add(name)
                    continue
                state = integration_task(name)(
                    dry_run=dry_run, full_refresh=full_refresh, pair=settings.pair, return_state=True
                )
                report = report_of(state)
                if report is None:
                    reports.append(_crashed(name, state, dry_run))
                    failed.add(name)
                    continue
                reports.extend(report.integrations)
                if any(item.outcome == "failed" for item in report.integrations):
                    failed.add(name)
        summary = execute("nightly", [], dry_run=dry_run, notify=notify, settings=settings, before=reports)
    return final_state(summary)


def _skipped(name: str, broken: list[str], dry_run: bool) -> IntegrationReport:
    notes = [f"not run because {', '.join(broken)} did not complete tonight; it runs again with the next run"]
    return _report_without_run(name, dry_run, outcome="skipped", notes=notes)


def _crashed(name: str, state: State, dry_run: bool) -> IntegrationReport:
    error = state.message or f"the {name} flow ended {state.type.value.lower()}"
    return _report_without_run(name, dry_run, outcome="failed", error=error)


def _report_without_run(name: str, dry_run: bool, **outcome: Any) -> IntegrationReport:
    """The report of an integration that did not run (skipped) or ended before it could report."""
    cls = integration(name)
    now = datetime.now(UTC)
    return IntegrationReport(
        integration=name,
        title=cls.title,
        direction=cls.direction_text(),
        dry_run=dry_run,
        started_at=now,
        finished_at=now,
        **outcome,
    )
