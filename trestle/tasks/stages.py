"""The pipeline's stages as Prefect tasks, one task per page or batch (never per record).

fetch → validate → match → map (+ plan) → write → record, then report. The stages that only
read or compute are retried by Prefect for transient errors only (rate limits and 5xx that
outlived the client's own retries, dropped connections, a locked database); a validation error
or a rejected write is never retried, it becomes a review issue. Fetch is not retried by Prefect
because a page iterator cannot be rewound: the HTTP client already retries each request.

The stages that write (recover, write) are never retried by Prefect: a retry would resend a page
whose writes may have reached the target. A write that fails in a way that leaves its outcome
open (a 5xx, a timeout, a lost answer) stays a *pending* intent, and the next run's recover stage
looks the record up (or replays the idempotency key) before anything is sent again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy.exc import OperationalError

from trestle.batching import chunked
from trestle.clients.errors import (
    ConnectionFailedError,
    DailyLimitExceeded,
    FatalApiError,
    OutcomeUnknownError,
    RetriableApiError,
    TransportError,
)
from trestle.jsonable import jsonable
from trestle.models import seen
from trestle.models.intents import IntentIn, PendingIntent
from trestle.models.report import RecordOutcome
from trestle.models.unreadable import problems_of
from trestle.notifications.words import unreadable_words
from trestle.tasks import deleted
from trestle.tasks.declaration import SYSTEM_NAMES
from trestle.tasks.engine import (
    Page,
    Record,
    WriteItem,
    WriteResult,
    batch_key,
    diff,
    fingerprint,
    idempotency_key,
)
from trestle.tasks.faults import crash_point
from trestle.tasks.state import PipelineRun

logger = logging.getLogger("trestle.pipeline")

LOST_RESPONSE = "the answer to the write was lost; the next run checks the target and finishes it"
OUTCOME_OPEN = (OutcomeUnknownError, RetriableApiError, TransportError)
"""Errors after which a write may or may not have reached the target: never resent blind."""


def transient_only(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect retry condition: retry rate limits, 5xx, network and database-lock errors only."""
    try:
        state.result()
    except ConnectionFailedError:  # a wrong URL or a dead network: the client already tried twice
        return False
    except (RetriableApiError, TransportError, OperationalError):
        return True
    except Exception:
        return False
    return False


WRITE_STAGE_OPTIONS: dict[str, Any] = {"cache_policy": NO_CACHE, "persist_result": False}
"""Stages that write: no Prefect retries, ever (see the module docstring)."""

STAGE_OPTIONS: dict[str, Any] = {
    **WRITE_STAGE_OPTIONS,
    "retries": 2,
    "retry_delay_seconds": [5, 30],
    "retry_condition_fn": transient_only,
}
"""Stages that only read or compute: retried for transient errors."""


@task(name="recover", task_run_name="recover-{run.name}", **WRITE_STAGE_OPTIONS)
def recover_stage(run: PipelineRun) -> int:
    """Finish writes a crash or a lost response left pending, before anything new is sent."""
    pending = run.ctx.store.pending_intents(run.name)
    if not pending:
        return 0
    try:
        return _recover(run, pending)
    finally:
        run.unconfirmed |= {intent.source_id for intent in run.ctx.store.pending_intents(run.name)}


def _recover(run: PipelineRun, pending: list[PendingIntent]) -> int:
    batches: dict[str, list[PendingIntent]] = {}
    for pending_intent in pending:
        batches.setdefault(pending_intent.batch_key, []).append(pending_intent)
    finished = 0
    for intents in batches.values():
        try:
            results = run.integration.recover(intents)
        except OUTCOME_OPEN:
            run.report.notes.append(f"{len(intents)} pending write(s) still unconfirmed; retried next run")
            continue
        by_source = {intent.source_id: intent for intent in intents}
        links, done, failed = [], [], {}
        for result in results:
            intent = by_source.get(result.source_id)
            if intent is None or result.outcome_unknown:
                continue
            if result.ok and result.target_id:
                record = Record(intent.source_id, intent.label, None)
                record.payload, record.fingerprint = intent.payload, intent.fingerprint
                links.append(run.integration.link_row(record, result.target_id))
                done.append(intent.idempotency_key)
                finished += 1
                run.recovered.add(intent.source_id)
                run.report.add(
                    RecordOutcome(
                        action="updated" if intent.operation == "update" else "created",
                        entity=run.integration.entity,
                        label=intent.label,
                        source_system=run.integration.source_system,
                        source_id=intent.source_id,
                        target_system=run.integration.target_system,
                        target_id=result.target_id,
                        target_url=run.integration.target_url(result.target_id),
                        reason="finished a write an earlier run started (its answer was lost)",
                    )
                )
            else:
                failed[intent.idempotency_key] = result.error or "rejected"
                run.recheck_ids.add(intent.source_id)
        run.ctx.store.finish_writes(links=links, done_keys=done, failed=failed)
        run.remember_links(links)  # the pages of this same run must see these records as linked
    if finished:
        run.report.notes.append(f"finished {finished} write(s) left pending by an earlier run")
    return finished


@task(name="prepare", task_run_name="prepare-{run.name}", **STAGE_OPTIONS)
def prepare_stage(run: PipelineRun) -> None:
    """Load what the integration needs once per run (raises Blocked to stop cleanly)."""
    run.integration.prepare()
    run.progress.start(run.integration.expected_total())


@task(name="fetch", task_run_name="fetch-{run.name}-{number}", cache_policy=NO_CACHE, persist_result=False)
def fetch_stage(run: PipelineRun, pages: Iterator[Page], number: int) -> Page | None:
    """The next page of source records, or None at the end."""
    page = next(pages, None)
    if page is not None:
        run.progress.advance(len(page.records))
    return page


@task(name="validate", task_run_name="validate-{run.name}-{number}", **STAGE_OPTIONS)
def validate_stage(run: PipelineRun, page: Page, number: int) -> Page:
    """Apply the integration's rules; a record that breaks one carries a named issue.

    A record the source sent with a value Trestle cannot read (:mod:`trestle.models.unreadable`)
    gets ``<entity>.unreadable`` instead: its rules would read the fields left out of it.
    """
    integration = run.integration
    for record in page.records:
        record.issues = []
        if problems := problems_of(record.data):
            record.flag(
                f"{run.integration.entity}.unreadable",
                unreadable_words(SYSTEM_NAMES[integration.source_system], problems),
                fields=[problem.field for problem in problems],
            )
        elif not deleted.is_gone_source(record):
            integration.validate(record)
    return page


@task(name="match", task_run_name="match-{run.name}-{number}", **STAGE_OPTIONS)
def match_stage(run: PipelineRun, page: Page, number: int) -> Page:
    """Link table first, then the integration's own keys for records not linked yet."""
    unlinked: list[Record] = []
    for record in page.records:
        record.link = run.links_by_source.get(record.id)
        if record.link is not None:
            record.target_id = run.integration.target_id_of(record.link)
            record.match_method = "link"
        elif not record.issues:
            unlinked.append(record)
    if unlinked:
        run.integration.match(unlinked, frozenset(run.links_by_target))
        claimed = dict(run.links_by_target)  # one target, one source: also within this page
        for record in unlinked:
            owner = claimed.get(record.target_id or "")
            if record.target_id and not owner:
                claimed[record.target_id] = record.id
            elif record.target_id and owner != record.id:
                record.flag(
                    f"{run.integration.entity}.target_already_linked",
                    f"The matching {run.integration.target_system.title()} record is already linked to "
                    "another record; one record can only be linked once.",
                    target_id=record.target_id,
                    linked_to=owner,
                )
                record.target_id, record.target = None, None
    return page


@task(name="map", task_run_name="map-{run.name}-{number}", **STAGE_OPTIONS)
def map_stage(run: PipelineRun, page: Page, number: int) -> Page:
    """Map each clean record to its target payload and decide: create, update, unchanged or skip."""
    for record in page.records:
        if record.issues:
            record.plan = "skip"
            continue
        if deleted.plan_gone_source(run, record):
            continue
        payload = jsonable(run.integration.map(record))
        if record.issues:  # mapping can find problems too (an unknown cost code, say)
            record.plan = "skip"
            continue
        record.payload, record.fingerprint = payload, fingerprint(payload)
        if record.link is not None:
            if deleted.screen_gone_target(run, record):
                continue
            if record.link.fingerprint == record.fingerprint:
                record.plan = "unchanged"
                continue
            record.plan, record.changes = "update", diff(record.link.last_payload, payload)
        elif record.target_id is not None:
            current = run.integration.current_payload(record)
            if current is not None and jsonable(current) == payload:
                record.plan = "link"
                continue
            record.plan, record.changes = "update", diff(jsonable(current) if current else None, payload)
        else:
            record.plan = "create"
    updates = [record for record in page.records if record.plan == "update"]
    if updates:
        run.integration.prepare_updates(updates)
    for record in updates:
        run.integration.check_update(record)
        if record.issues:
            record.plan = "skip"
    return page


def plan_links(run: PipelineRun, page: Page) -> None:
    """The links a real write of ``page`` would make, kept in the run's :class:`PlannedLinks`
    (placeholder targets for creates) so the integrations after it report what a real run would."""
    from trestle.integrations.lookups import Lookups

    planned, integration = run.ctx.planned, run.integration
    if planned is None:
        return
    links = [
        integration.link_row(record, record.target_id or planned.placeholder(integration.target_system))
        for record in page.records
        if (record.plan == "link" and record.target_id) or record.plan in ("create", "update")
    ]
    if links:
        planned.add(links)
        run.remember_links(links)
        Lookups.of(run.ctx).refresh(integration.entity)


@task(name="write", task_run_name="write-{run.name}-{number}", **WRITE_STAGE_OPTIONS)
def write_stage(run: PipelineRun, page: Page, number: int) -> Page:
    """Write creates and updates in batches through intents; on a dry run nothing is written and
    the links the writes would make are only planned (:func:`plan_links`)."""
    if run.ctx.dry_run:
        plan_links(run, page)
        return page
    store, integration = run.ctx.store, run.integration
    plain_links = [integration.link_row(r, r.target_id) for r in page.records if r.plan == "link" and r.target_id]
    if plain_links:
        store.save_links(plain_links)
        run.remember_links(plain_links)
    groups: dict[str, list[Record]] = {}
    for record in page.records:
        if record.plan in ("create", "update") and record.id in run.unconfirmed:
            # an earlier write of it may have landed: the next run's recovery looks it up first
            run.write_results[record.id] = WriteResult(record.id, ok=False, outcome_unknown=True)
        elif record.plan in ("create", "update"):
            groups.setdefault(integration.write_group(record), []).append(record)
    batches = [batch for group in groups.values() for batch in chunked(group, integration.write_batch_size)]
    for batch in batches:
        ended = store.finished_attempts(run.name, [record.id for record in batch])
        items = [
            WriteItem(
                source_id=record.id,
                operation="update" if record.plan == "update" else "create",
                target_id=record.target_id,
                payload=record.payload or {},
                idempotency_key=idempotency_key(
                    run.ctx.pair,
                    run.name,
                    deleted.write_source_key(record),
                    record.fingerprint or "",
                    ended.get((record.id, record.fingerprint or ""), 0),
                ),
                label=record.label,
            )
            for record in batch
        ]
        key = batch_key([item.idempotency_key for item in items])
        store.add_intents(
            [
                IntentIn(
                    entity=integration.entity,
                    source_id=item.source_id,
                    target_system=integration.target_system,
                    operation=item.operation,
                    idempotency_key=item.idempotency_key,
                    batch_key=key,
                    batch_position=position,
                    fingerprint=record.fingerprint or "",
                    payload=item.payload,
                    label=record.label,
                    target_id=item.target_id,
                )
                for position, (item, record) in enumerate(zip(items, batch, strict=True))
            ],
            run.name,
        )
        try:
            results = integration.write(items, key)
        except OUTCOME_OPEN:
            results = [WriteResult(item.source_id, ok=False, outcome_unknown=True) for item in items]
        except DailyLimitExceeded:
            # refused before anything was written: the intents stay pending, the run stops here
            attempted = [item.idempotency_key for item in items]
            store.finish_writes(links=[], done_keys=[], failed={}, attempted_keys=attempted)
            raise
        except FatalApiError as exc:
            results = [WriteResult(item.source_id, ok=False, error=exc.message) for item in items]
        crash_point("after-remote-write")
        _apply_results(run, batch, items, results)
    return page


def _apply_results(run: PipelineRun, batch: list[Record], items: list[WriteItem], results: list[WriteResult]) -> None:
    by_source = {result.source_id: result for result in results}
    links, done, failed = [], [], {}
    for record, item in zip(batch, items, strict=True):
        result = by_source.get(record.id) or WriteResult(record.id, ok=False, error="no result returned")
        run.write_results[record.id] = result
        if result.outcome_unknown:
            run.unconfirmed.add(record.id)
            continue
        if result.ok and result.target_id:
            record.target_id = result.target_id
            links.append(run.integration.link_row(record, result.target_id))
            done.append(item.idempotency_key)
        else:
            failed[item.idempotency_key] = result.error or "rejected"
            if result.code:
                record.flag(result.code, result.error or "not written", **result.details)
            else:
                record.flag(
                    f"{run.integration.entity}.write_rejected",
                    f"{run.integration.target_system.title()} rejected the write: {result.error or 'no reason given'}",
                    **result.details,
                )
    run.ctx.store.finish_writes(
        links=links, done_keys=done, failed=failed, attempted_keys=[item.idempotency_key for item in items]
    )
    run.remember_links(links)


@task(name="record", task_run_name="record-{run.name}-{number}", **STAGE_OPTIONS)
def record_stage(run: PipelineRun, page: Page, number: int) -> None:
    """Report each record's outcome, open or resolve its review issues, and move the cursor."""
    integration = run.integration
    for record in page.records:
        run.processed.add(record.id)
        if record.id in run.recovered and record.plan in ("unchanged", "link"):
            continue  # already counted when its pending write was finished this run
        run.report.add(_outcome(run, record))
        if record.issues:
            run.found_issues[record.id] = record
    if not run.ctx.dry_run:
        run.ctx.store.reconcile_issues(
            run.name,
            integration.entity,
            {record.id: record.issues for record in page.records},
            labels={record.id: record.label for record in page.records},
            urls={record.id: integration.source_url(record) for record in page.records},
        )
        settled = [record for record in page.records if _settled(run, record)]
        seen.save(run.ctx.store, run.name, {k: v for r in settled for k, v in integration.versions(r).items()})
        seen.forget(run.ctx.store, run.name, [record.id for record in page.records if not _settled(run, record)])
    if page.high_water is not None:
        run.note_high_water(page.stream, page.high_water)


def _settled(run: PipelineRun, record: Record) -> bool:
    """Whether ``record`` is settled as read: nothing it wrote failed or is still open. Its open
    issues, if any, are the integration's re-check to decide (``trestle.integrations.recheck``)."""
    result = run.write_results.get(record.id)
    return record.id not in run.unconfirmed and (result is None or result.ok)


def _outcome(run: PipelineRun, record: Record) -> RecordOutcome:
    integration = run.integration
    result = run.write_results.get(record.id)
    action: str = {"create": "created", "update": "updated", "skip": "skipped"}.get(record.plan or "", "unchanged")
    if action == "updated" and isinstance(record.data, deleted.SourceGone):
        action = "deleted"  # a propagated deletion
    reason = None
    if record.issues:
        action = "skipped" if record.plan == "skip" else "failed"
        reason = record.issues[0].message
    elif result is not None and not result.ok:
        action = "failed"
        reason = LOST_RESPONSE if result.outcome_unknown else result.error
    target_id = record.target_id
    return RecordOutcome(
        action=action,
        entity=integration.entity,
        label=record.label,
        source_system=integration.source_system,
        source_id=record.id,
        target_system=integration.target_system,
        target_id=target_id,
        source_url=integration.source_url(record),
        target_url=integration.target_url(target_id) if target_id else None,
        changes=record.changes if action == "updated" else [],
        reason=reason,
        issue_codes=[issue.code for issue in record.issues],
    )
