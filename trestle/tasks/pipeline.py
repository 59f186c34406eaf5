"""The one pipeline skeleton every integration runs through.

:func:`run_integration` drives the stages in :mod:`trestle.tasks.stages` for one integration:
recover pending writes, prepare, then page by page fetch → validate → match → map → write →
record, then the records that still had open issues, then the cursor and the report. It holds
a lock per pair and integration so two runs at once never write the same thing twice.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from prefect import task

from trestle.clients.errors import TrestleApiError
from trestle.integrations.lookups import Lookups
from trestle.models.report import IntegrationReport, IssueView, SystemUsage
from trestle.models.store import IssueIn, LockHeld
from trestle.tasks.context import RunContext
from trestle.tasks.engine import Blocked, Integration, Page
from trestle.tasks.faults import fail_point
from trestle.tasks.stages import (
    STAGE_OPTIONS,
    fetch_stage,
    map_stage,
    match_stage,
    prepare_stage,
    record_stage,
    recover_stage,
    validate_stage,
    write_stage,
)
from trestle.tasks.state import PipelineRun

logger = logging.getLogger("trestle.pipeline")

RECHECK_BATCH = 200
LOCK_NAME = "integration:{}"
LOCK_TTL = timedelta(minutes=10)
INTEGRATION_ENTITY = "integration"


def run_integration(integration_cls: type[Integration], ctx: RunContext) -> IntegrationReport:
    """Run one integration end to end and return its report (never raises for API errors)."""
    integration = integration_cls(ctx)
    run = PipelineRun(integration, ctx)
    usage_before = ctx.usage.snapshot()
    try:
        if ctx.dry_run:
            _run_stages(run)
        else:
            with ctx.store.lock(LOCK_NAME.format(run.name), ttl=LOCK_TTL, wait=ctx.options.lock_wait_seconds) as holder:
                run.lock_holder = holder
                _run_stages(run)
    except Blocked as blocked:
        run.report.outcome = "blocked"
        run.report.notes.append(blocked.message)
        _record_run_level_issue(run, IssueIn(blocked.code, blocked.message), fix=blocked.fix)
    except LockHeld as held:
        run.report.outcome = "skipped"
        run.report.notes.append(f"skipped: {held}")
    except Exception as exc:  # the report must always be written; the error is in it
        logger.exception("%s failed", run.name)
        run.report.outcome = "failed"
        run.report.error = _describe(exc)
    report = report_stage(run, usage_before)
    Lookups.of(ctx).refresh()  # the next integration in this run sees the links this one wrote
    return report


def _run_stages(run: PipelineRun) -> None:
    ctx, integration = run.ctx, run.integration
    fail_point(f"integration:{run.name}")
    if not ctx.dry_run:
        recover_stage(run)
    prepare_stage(run)
    _record_run_level_issue(run, None)
    since = integration.stream_since()
    number = 0
    pages = integration.fetch(since)
    while (page := fetch_stage(run, pages, number)) is not None:
        _process(run, page, number)
        number += 1
    run.recheck_ids |= _ids_with_open_issues(run)
    recheck = sorted(run.recheck_ids - run.processed)
    for start in range(0, len(recheck), RECHECK_BATCH):
        records = integration.fetch_by_ids(recheck[start : start + RECHECK_BATCH])
        if records:
            _process(run, Page(records, stream="recheck"), number)
            number += 1
    if not ctx.dry_run:
        for stream, position in run.high_water.items():
            if stream != "recheck":
                ctx.store.save_cursor(run.name, stream, position)


def _process(run: PipelineRun, page: Page, number: int) -> None:
    if run.lock_holder is not None:  # renew the lease: still alive, still working
        run.ctx.store.try_lock(LOCK_NAME.format(run.name), run.lock_holder, LOCK_TTL)
    page = validate_stage(run, page, number)
    page = match_stage(run, page, number)
    page = map_stage(run, page, number)
    page = write_stage(run, page, number)
    record_stage(run, page, number)


def _ids_with_open_issues(run: PipelineRun) -> set[str]:
    """Records with open issues are re-read every run: a fix elsewhere (a vendor linked, a
    cost code added) may have cleared them without touching the record itself."""
    issues = run.ctx.store.open_issues(integration=run.name, entity=run.integration.entity)
    return {issue.record_id for issue in issues}


def _record_run_level_issue(run: PipelineRun, issue: IssueIn | None, *, fix: str | None = None) -> None:
    """Open (or, with None, resolve) the integration-level issue such as a missing contact group."""
    if run.ctx.dry_run:
        if issue is not None:
            run.report.issues.append(
                IssueView(
                    code=issue.code,
                    message=issue.message,
                    entity=INTEGRATION_ENTITY,
                    record_id=run.name,
                    label=run.report.title,
                    fix=fix,
                )
            )
        return
    run.ctx.store.reconcile_issues(
        run.name,
        INTEGRATION_ENTITY,
        {run.name: [issue] if issue else []},
        labels={run.name: run.report.title},
    )


@task(name="report", task_run_name="report-{run.name}", **STAGE_OPTIONS)
def report_stage(run: PipelineRun, usage_before: dict) -> IntegrationReport:
    """Close the integration's report: its open issues, API usage, outcome."""
    report = run.report
    report.finished_at = datetime.now(UTC)
    fixes = run.integration.issue_fixes
    if run.ctx.dry_run:
        for record in run.found_issues.values():
            for issue in record.issues:
                report.issues.append(
                    IssueView(
                        code=issue.code,
                        message=issue.message,
                        entity=run.integration.entity,
                        record_id=record.id,
                        label=record.label,
                        url=run.integration.source_url(record),
                        fix=fixes.get(issue.code),
                        details=issue.details,
                    )
                )
    else:
        for entity in (INTEGRATION_ENTITY, run.integration.entity):
            for row in run.ctx.store.open_issues(integration=run.name, entity=entity):
                report.issues.append(
                    IssueView(
                        code=row.code,
                        message=row.message,
                        entity=row.entity,
                        record_id=row.record_id,
                        label=row.label,
                        url=row.url,
                        fix=fixes.get(row.code),
                        first_seen=row.first_seen,
                        last_seen=row.last_seen,
                        details=row.details or {},
                    )
                )
    report.api_usage = _usage_delta(usage_before, run.ctx.usage.snapshot())
    if report.outcome == "success" and (report.issues or report.counts.get("failed")):
        report.outcome = "issues"
    run.progress.finish()
    return report


def _usage_delta(before: dict, after: dict) -> dict[str, SystemUsage]:
    usage: dict[str, SystemUsage] = {}
    for system, now in after.items():
        then = before.get(system, {})
        routes_then = then.get("calls", {})
        by_route = {
            route: count - routes_then.get(route, 0)
            for route, count in now.get("calls", {}).items()
            if count - routes_then.get(route, 0) > 0
        }
        calls = now.get("total", 0) - then.get("total", 0)
        if calls or by_route:
            usage[system] = SystemUsage(calls=calls, by_route=by_route, remaining=now.get("budget", {}))
    return usage


def _describe(exc: Exception) -> str:
    if isinstance(exc, TrestleApiError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
