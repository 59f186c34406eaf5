"""What a run's Logs tab in the Prefect UI says: per integration and stage, in words and numbers.

Trestle logs with :mod:`logging` under ``trestle.*``. :func:`send_to_prefect` gives the
``trestle`` logger a handler that forwards records made inside a Prefect flow or task run to
that run (Prefect's own API log handler), so they show in the run's Logs tab whether the run
was served, started by a worker or by ``trestle run``. Outside a run the handler stays silent
(no "missing flow run" warnings from ``trestle doctor``).

Each integration's story goes to the ``trestle.run`` logger, which does not propagate to the
terminal (``trestle run`` prints its own summary table)::

    Vendors: fetched 120 records in 3 pages
    Vendors: 118 valid, 2 with issues; 110 matched (100 by link, 10 by name/ABN)
    Vendors: planned 5 creates, 3 updates, 102 unchanged, 2 skipped
    Vendors: wrote 5 created, 3 updated; 102 unchanged; 0 failed
    Vendors: review issues 2 open (1 new), 1 resolved
    Vendors: API calls xero 14 (budget left: minute 41, day 4986), procore 6
    Vendors: review issue vendor.missing_abn on 'Acme Pty' (vendor 562949953421312)   [WARNING]
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

if TYPE_CHECKING:
    from trestle.models.report import IntegrationReport
    from trestle.tasks.engine import Page
    from trestle.tasks.state import PipelineRun

STORY_LOGGER = "trestle.run"
story_logger = logging.getLogger(STORY_LOGGER)
_STORIES: WeakKeyDictionary[Any, Story] = WeakKeyDictionary()


def send_to_prefect() -> None:
    """Forward ``trestle.*`` records made inside a Prefect run to that run's logs (once per process)."""
    from prefect.context import FlowRunContext, TaskRunContext
    from prefect.logging.handlers import APILogHandler

    class RunLogHandler(APILogHandler):
        """Prefect's API handler, for records made inside a flow or task run only."""

        def emit(self, record: logging.LogRecord) -> None:
            if FlowRunContext.get() is None and TaskRunContext.get() is None:
                return
            super().emit(record)

    trestle_logger = logging.getLogger("trestle")
    if any(type(handler).__name__ == "RunLogHandler" for handler in trestle_logger.handlers):
        return
    handler = RunLogHandler()
    handler.setLevel(logging.INFO)
    trestle_logger.addHandler(handler)
    story_logger.setLevel(logging.INFO)
    story_logger.propagate = False
    story_logger.addHandler(handler)


@dataclass
class Story:
    """Counts gathered page by page for one integration run."""

    title: str
    open_before: set[tuple[str, str]] = field(default_factory=set)
    pages: int = 0
    fetched: int = 0
    with_issues: int = 0
    matched: Counter[str] = field(default_factory=Counter)
    plans: Counter[str] = field(default_factory=Counter)

    def count(self, batch: Page, pages: int) -> None:
        """Add one processed batch's records (after the record stage) and the source pages it joined."""
        self.pages += pages
        for record in batch.records:
            self.fetched += 1
            self.with_issues += bool(record.issues)
            if record.plan in ("update", "unchanged", "link"):  # had a target before the write stage
                self.matched[record.match_method or "link"] += 1
            self.plans[record.plan or "skip"] += 1


def begin(run: PipelineRun) -> Story:
    """Start the story of ``run``: remember which review issues were open before it."""
    send_to_prefect()
    story = Story(run.report.title)
    if not run.ctx.dry_run:
        story.open_before = {(issue.record_id, issue.code) for issue in run.ctx.store.open_issues(integration=run.name)}
    _STORIES[run] = story
    story_logger.info("%s: started%s", story.title, " (dry run: nothing is written)" if run.ctx.dry_run else "")
    return story


def count_batch(run: PipelineRun, batch: Page, *, pages: int) -> None:
    """Count a processed batch (of ``pages`` source pages) into ``run``'s story."""
    story = _STORIES.get(run)
    if story is not None:
        story.count(batch, pages)


def tell(run: PipelineRun, report: IntegrationReport) -> None:
    """Log the integration's story: one line per stage, then each open review issue as a warning."""
    story = _STORIES.pop(run, None) or Story(report.title)
    for line in story_lines(story, report):
        story_logger.info("%s: %s", report.title, line)
    for issue in report.issues:
        story_logger.warning(
            "%s: review issue %s on %r (%s %s): %s",
            report.title,
            issue.code,
            issue.label,
            issue.entity,
            issue.record_id,
            issue.message,
        )
    if report.error:
        story_logger.error("%s: failed: %s", report.title, report.error)


def story_lines(story: Story, report: IntegrationReport) -> list[str]:
    """The stage-by-stage lines for one integration (pure: tested without Prefect)."""
    counts, plans = report.counts, story.plans
    matched = sum(story.matched.values())
    methods = ", ".join(f"{count} by {method}" for method, count in sorted(story.matched.items()))
    open_now = {(issue.record_id, issue.code) for issue in report.issues}
    lines = [
        f"fetched {story.fetched} record(s) in {story.pages} page(s)",
        f"{story.fetched - story.with_issues} valid, {story.with_issues} with issues; "
        f"{matched} matched" + (f" ({methods})" if methods else ""),
        f"planned {plans['create']} create(s), {plans['update']} update(s), {plans['link']} link(s), "
        f"{plans['unchanged']} unchanged, {plans['skip']} skipped",
        f"wrote {counts.get('created', 0)} created, {counts.get('updated', 0)} updated; "
        f"{counts.get('unchanged', 0)} unchanged, {counts.get('skipped', 0)} skipped, "
        f"{counts.get('failed', 0)} failed",
        f"review issues {len(open_now)} open ({len(open_now - story.open_before)} new), "
        f"{len(story.open_before - open_now)} resolved",
        "API calls " + (", ".join(_usage(system, usage) for system, usage in report.api_usage.items()) or "none"),
        f"{report.outcome} in {report.seconds:.1f} s",
    ]
    return lines


def _usage(system: str, usage: Any) -> str:
    left = ", ".join(f"{window} {value}" for window, value in sorted(usage.remaining.items()) if value is not None)
    return f"{system} {usage.calls}" + (f" (budget left: {left})" if left else "")
