"""What every flow does around its integrations: context, run record, report, email, artifacts.

Flows stay thin: they declare parameters and call :func:`execute`. A flow's final state carries
its :class:`RunReport` as data (:func:`final_state`), so whoever ran it — the nightly flow for its
integrations' task runs, the CLI for its summary — reads the report from the run itself (:func:`report_of`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, cast

from prefect import State, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.states import Completed, Failed
from prefect.utilities.annotations import quote

from trestle.integrations import integration
from trestle.models.report import IntegrationReport, RunReport
from trestle.notifications import background
from trestle.notifications.artifacts import publish_run_artifacts
from trestle.notifications.email import deliver_summary
from trestle.settings import TrestleSettings, load_settings
from trestle.tasks.context import RunContext, RunOptions
from trestle.tasks.pipeline import run_integration

logger = logging.getLogger("trestle.flows")


def execute(
    flow_name: str,
    names: list[str],
    *,
    dry_run: bool = False,
    full_refresh: bool = False,
    notify: bool = True,
    settings: TrestleSettings | None = None,
    options: RunOptions | None = None,
    before: list[IntegrationReport] | None = None,
    records: list[str] | None = None,
) -> RunReport:
    """Run ``names`` in order inside the current flow and return the run's report.

    ``records`` makes it a one-record run: only those source records (ids) are read and written,
    and no cursor moves.

    ``before`` are reports already made in this flow (the nightly run's integrations), so the
    summary email and artifacts cover the whole run.
    """
    settings = settings or load_settings()
    settings.require_connections()
    options = options or RunOptions(
        dry_run=dry_run, full_refresh=full_refresh, record_ids=tuple(records) if records else None
    )
    ctx = RunContext(settings, options)
    report = RunReport(
        run_id=ctx.run_id,
        flow=flow_name,
        pair=settings.pair,
        dry_run=options.dry_run,
        # The nightly run reports once its integrations are done: it started when the first of them did.
        started_at=min([datetime.now(UTC), *(item.started_at for item in before or [])]),
        procore_web_url=settings.procore.web_url,
        xero_web_url=settings.xero.web_url,
        timezone=settings.timezone,
    )
    report.integrations.extend(before or [])
    ctx.store.start_run(ctx.run_id, flow_name, dry_run=options.dry_run, flow_run_id=_flow_run_id())
    try:
        for name in names:
            report.integrations.append(run_integration(integration(name), ctx))
    finally:
        ctx.close()
        report.finished_at = datetime.now(UTC)
        ctx.store.finish_run(
            ctx.run_id,
            outcome=report.outcome,
            summary=report.summary_dict(),
            api_calls=sum(report.api_calls.values()),
        )
    if _IN_BACKGROUND.get() and not notify:
        background.send(publish_run_artifacts, report)
    else:
        background.drain()  # the progress bars sent so far, before the summary that ends the run
        # quoted: Prefect would otherwise walk the whole report and settings looking for futures
        # (about 0.15 s per summary on a medium night); they hold none
        finish_stage(cast(Any, quote(report)), cast(Any, quote(settings)), notify=notify)
    return report


_IN_BACKGROUND: ContextVar[bool] = ContextVar("summaries_in_background", default=False)


@contextmanager
def summaries_in_background() -> Iterator[None]:
    """Inside, a run that sends no email publishes its artifacts from the background thread
    (:mod:`trestle.notifications.background`) while the next integration runs; leaving waits
    for them all.

    Artifacts are API round trips (three per integration, and a progress bar's, 10-40 ms each
    on a busy temporary server): a nightly need not wait for one integration's before starting
    the next. They attach to the integration's own task run, whose context they are sent in. A
    summary that fails only logs (:func:`~trestle.notifications.artifacts.publish_run_artifacts`),
    so nothing is lost by not waiting at once.
    """
    token = _IN_BACKGROUND.set(True)
    try:
        yield
    finally:
        _IN_BACKGROUND.reset(token)
        background.drain()


@task(name="summary", task_run_name="summary-{report.flow}", cache_policy=NO_CACHE, persist_result=False)
def finish_stage(report: RunReport, settings: TrestleSettings, *, notify: bool) -> dict[str, Any]:
    """Publish the Prefect artifacts and deliver the summary email (outbox by default)."""
    publish_run_artifacts(report)
    if not notify:
        return {"email": "not requested"}
    result = deliver_summary(report, settings.email)
    logger.info("summary email: %s", result)
    return {"email": str(result)}


def final_state(report: RunReport) -> State:
    """The flow's state, carrying ``report``: Failed when an integration failed, so the Prefect UI shows it."""
    if report.outcome == "failed":
        failed = [item.integration for item in report.integrations if item.outcome == "failed"]
        return Failed(message=f"{', '.join(failed)} failed", data=report)
    return Completed(message=f"{report.outcome}: {report.totals}", data=report)


def report_of(state: State) -> RunReport | None:
    """The report a finished flow run returned in its state (None if it ended before reporting)."""
    try:
        result = state.result(raise_on_failure=False)
    except Exception:  # the result is missing or could not be read back: the run did not report
        return None
    return result if isinstance(result, RunReport) else None


def _flow_run_id() -> str | None:
    try:
        value = flow_run.id
    except Exception:
        return None
    return str(value) if value else None
