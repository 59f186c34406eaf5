"""The one pipeline skeleton every integration runs through.

:func:`run_integration` drives the stages in :mod:`trestle.tasks.stages` for one integration:
prepare, recover pending writes, then batch by batch (source pages joined up to
:data:`BATCH_RECORDS` records, so empty pages cost no task run) validate → match → map, with the
writes held across batches and projects until they fill the integration's write batches
(:class:`_WriteHold`) → write → record, then the records that still had open issues, then the
cursor and the report. What each
stage did is logged to the run's Logs tab by :mod:`trestle.tasks.logs`. It holds a lease per pair
and integration so two runs at once never write the same thing twice: links and cached lookups are
read only once the lease is held, the lease is renewed before every batch, and a run whose lease
was taken over stops before its next write.

A one-record run (``RunOptions.record_ids``) reads just those records by id and takes them
through the same stages; it re-reads nothing else and moves no cursor (see :func:`_run_records`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import task

from trestle.batching import chunked
from trestle.clients.errors import DailyLimitExceeded, describe_exception
from trestle.integrations.lookups import Lookups
from trestle.models.issues import IssueIn
from trestle.models.lease import LeaseLost, LockHeld
from trestle.models.report import IntegrationReport, IssueView, SystemUsage
from trestle.tasks import deleted, logs
from trestle.tasks.context import RunContext
from trestle.tasks.engine import Blocked, Integration, Page
from trestle.tasks.faults import fail_point
from trestle.tasks.stages import (
    STAGE_OPTIONS,
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
BATCH_RECORDS = 500
HOLD_WRITE_BATCHES = 20
"""Writes wait until this many full write batches are pending (see :class:`_WriteHold`)."""
HOLD_RECORDS = 5000
"""…or until this many records are held, whatever they write (memory stays bounded)."""
LOCK_NAME = "integration:{}"
LOCK_TTL = timedelta(minutes=10)
INTEGRATION_ENTITY = "integration"


def run_integration(integration_cls: type[Integration], ctx: RunContext) -> IntegrationReport:
    """Run one integration end to end and return its report (never raises for API errors)."""
    integration = integration_cls(ctx)
    run = PipelineRun(integration, ctx)
    logs.begin(run)
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
    except DailyLimitExceeded:
        run.report.outcome = "failed"
        run.report.error = (
            "Xero's daily API limit was reached: the run stopped before its next call. The records not "
            "written yet (and any write it had started) are finished by the next run."
        )
    except LeaseLost as lost:
        run.report.outcome = "failed"
        run.report.error = str(lost)
    except Exception as exc:  # the report must always be written; the error is in it
        logger.exception("%s failed", run.name)
        run.report.outcome = "failed"
        run.report.error = _describe(exc)
    _report_manual_links(run)
    report = report_stage(run, usage_before)
    logs.tell(run, report)
    Lookups.of(ctx).refresh()  # the next integration in this run sees the links this one wrote
    return report


def _run_stages(run: PipelineRun) -> None:
    ctx, integration = run.ctx, run.integration
    fail_point(f"integration:{run.name}")
    Lookups.of(ctx).refresh()  # links read while waiting for the lease may be stale by now
    run.load_links()
    prepare_stage(run)
    # after prepare: recovery may need what prepare loads (a tracking category); no task run when
    # nothing is pending (most nights), as none is made for an empty page
    if not ctx.dry_run and ctx.store.pending_intents(run.name):
        recover_stage(run)
    _record_run_level_issue(run, None)
    if ctx.options.record_ids is not None:
        _run_records(run, ctx.options.record_ids)
        return
    if type(integration).deletion_candidates is not Integration.deletion_candidates:
        # Before the fetch: what the check reads (a bill voided in Xero) is what every record's
        # screening needs, in the pages below as much as in the recheck.
        run.recheck_ids |= integration.deletion_candidates(integration.stream_since(deleted.STREAM))
        run.note_high_water(deleted.STREAM, run.report.started_at)
    since = integration.stream_since()
    hold = _WriteHold(run)
    for batch, parts in _batches(run, integration.fetch(since)):
        hold.add(batch, parts)
    hold.flush()  # the records processed so far must be known before the recheck below
    run.recheck_ids |= _ids_with_open_issues(run) | _new_manual_links(run)
    recheck = sorted(run.recheck_ids - run.processed)
    for ids in chunked(recheck, RECHECK_BATCH):
        records = integration.fetch_by_ids(ids)
        if records:
            hold.add(Page(records, stream="recheck"), [])
    hold.flush()
    if not ctx.dry_run:
        for stream, position in run.high_water.items():
            if stream != "recheck":
                ctx.store.save_cursor(run.name, stream, position)


def _report_manual_links(run: PipelineRun) -> None:
    """Name the links and unlinks made by hand since the last real run in this run's summary (once each).

    A run skipped for another run's lease leaves them to the run that did the work.
    """
    if run.report.outcome == "skipped":
        return
    events = run.ctx.store.link_events(entity=run.integration.entity, unreported=True)
    run.report.notes.extend(event.describe() for event in events)
    if not run.ctx.dry_run:
        run.ctx.store.mark_events_reported([event.id for event in events])


def _run_records(run: PipelineRun, ids: tuple[str, ...]) -> None:
    """Only ``ids``: fetched by id, validated, matched, mapped and written; nothing else is read.

    A record with a write still pending from an earlier run is left alone (a full run finishes
    that write first: it is never resent blind), and an id the integration does not find or does
    not pick up fails the run with its name.
    """
    pending = {intent.source_id for intent in run.ctx.store.pending_intents(run.name)}
    waiting = sorted(set(ids) & pending)
    if waiting:
        run.report.notes.append(
            f"not run: {', '.join(waiting)} still has a write pending from an earlier run; a full run finishes it"
        )
    records = run.integration.fetch_by_ids([record_id for record_id in ids if record_id not in pending])
    missing = sorted(set(ids) - pending - {record.id for record in records})
    if records:
        run.progress.advance(len(records))
        hold = _WriteHold(run)
        hold.add(Page(records, stream="record"), [])
        hold.flush()
    if missing:
        run.report.outcome = "failed"
        run.report.error = (
            f"{run.report.title}: no record {', '.join(missing)} found, or not one this integration picks up"
        )


def _batches(run: PipelineRun, pages: Iterator[Page]) -> Iterator[tuple[Page, list[Page]]]:
    """The source pages joined into batches of about :data:`BATCH_RECORDS` records, with their pages.

    A batch carries no ``high_water`` of its own: each page's cursor position is noted by
    :func:`_mark_cursors` only after the whole batch is recorded, and saved at the end of the
    stream, so a cursor never passes a record that was not processed.
    """
    records: list[Any] = []
    parts: list[Page] = []
    for page in pages:
        run.progress.advance(len(page.records))
        records.extend(page.records)
        parts.append(page)
        if len(records) >= BATCH_RECORDS:
            yield Page(records), parts
            records, parts = [], []
    if parts:
        yield Page(records), parts


def _mark_cursors(run: PipelineRun, parts: list[Page]) -> None:
    for page in parts:
        if page.high_water is not None:
            run.note_high_water(page.stream, page.high_water)


class _WriteHold:
    """Mapped batches held back until their writes fill the integration's batches.

    Validate, match and map run batch by batch as the source pages come; the writes wait here,
    across pages and projects, until :data:`HOLD_WRITE_BATCHES` full write batches are pending
    (or :data:`HOLD_RECORDS` records are held, or the stream ends), and then go out together: so
    every batch write but the last of each kind is full, whatever the pages looked like. The held
    batches are then recorded, and only then are their pages' cursor positions noted, so a
    cursor never passes a record that was not written and recorded. A record already held flushes
    the hold before it is mapped again (its second appearance must see the first one's link), and
    a matched target is claimed at once so a later page cannot link it twice.
    """

    def __init__(self, run: PipelineRun) -> None:
        self.run = run
        self.batches: list[tuple[Page, list[Page]]] = []
        self.ids: set[str] = set()
        self.writes = 0
        self.number = 0

    def add(self, batch: Page, parts: list[Page]) -> None:
        """Validate, match and map ``batch``; hold it (with its source ``parts``) for the write."""
        run = self.run
        if not batch.records:
            if self.batches:
                self.batches.append((batch, parts))  # its cursors move with the batches before it
            else:
                _mark_cursors(run, parts)
                logs.count_batch(run, batch, pages=len(parts))
            return
        if self.ids & {record.id for record in batch.records}:
            self.flush()
        if run.lock_holder is not None:  # renew the lease: still alive, still working (or stop)
            run.ctx.store.renew_lock(LOCK_NAME.format(run.name), run.lock_holder, LOCK_TTL)
        number = self.number
        self.number += 1
        page = validate_stage(run, batch, number)
        page = match_stage(run, page, number)
        page = map_stage(run, page, number)
        for record in page.records:
            self.ids.add(record.id)
            if record.link is None and record.target_id and record.plan in ("link", "update"):
                run.links_by_target.setdefault(record.target_id, record.id)
        self.writes += sum(1 for record in page.records if record.plan in ("create", "update", "link"))
        self.batches.append((page, parts))
        held = sum(len(held.records) for held, _ in self.batches)
        if self.writes >= HOLD_WRITE_BATCHES * run.integration.write_batch_size or held >= HOLD_RECORDS:
            self.flush()

    def flush(self) -> None:
        """Write everything held in full batches, record it, then move the held pages' cursors."""
        if not self.batches:
            return
        run = self.run
        records = [record for page, _ in self.batches for record in page.records]
        if records:
            if run.lock_holder is not None:
                run.ctx.store.renew_lock(LOCK_NAME.format(run.name), run.lock_holder, LOCK_TTL)
            number = self.number - 1
            page = write_stage(run, Page(records), number)
            record_stage(run, page, number)
        for batch, parts in self.batches:
            _mark_cursors(run, parts)
            if batch.high_water is not None:
                run.note_high_water(batch.stream, batch.high_water)
            logs.count_batch(run, batch, pages=len(parts) or 1)
        self.batches, self.ids, self.writes = [], set(), 0


def _ids_with_open_issues(run: PipelineRun) -> set[str]:
    """Records with open issues are re-read every run: a fix elsewhere (a vendor linked, a
    cost code added) may have cleared them without touching the record itself."""
    issues = run.ctx.store.open_issues(integration=run.name, entity=run.integration.entity)
    return {issue.record_id for issue in issues}


def _new_manual_links(run: PipelineRun) -> set[str]:
    """Records linked by hand and not written since: the run updates their target, changed or not."""
    return {
        source_id
        for source_id, link in run.links_by_source.items()
        if link.origin == "manual" and link.fingerprint is None
    }


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
def report_stage(run: PipelineRun, usage_before: dict[str, dict[str, Any]]) -> IntegrationReport:
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


def _usage_delta(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> dict[str, SystemUsage]:
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
    return describe_exception(exc)  # the one redaction (trestle.clients.errors)
