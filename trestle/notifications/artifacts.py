"""Prefect artifacts, so whoever watches the Prefect UI sees what the morning email says.

Artifacts are a convenience: every call here is a no-op outside a Prefect flow or task run, and
a failure to publish is logged, never raised, so it cannot fail the sync it describes.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.context import FlowRunContext, TaskRunContext

from trestle.models.report import COUNTED_ACTIONS, RunReport
from trestle.notifications import background
from trestle.notifications.records import record_rows
from trestle.notifications.render import render_markdown, summary_subject

logger = logging.getLogger(__name__)

# Called with (description, percent or None, done) on every progress update: how the terminal
# shows a long ``trestle run`` (the CLI registers one); the Prefect UI has the progress artifact.
PROGRESS_LISTENERS: list[Callable[[str, float | None, int], None]] = []


def in_prefect_run() -> bool:
    """True inside a Prefect flow or task run (where artifacts attach to something)."""
    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def artifact_key(report: RunReport, kind: str) -> str:
    """The stable artifact key for ``kind`` (``summary``, ``integrations``, ``records``, ``progress``).

    ``trestle-<flow>-<kind>``, with the pair inserted (``trestle-<pair>-<flow>-<kind>``) when it is
    not ``default``, so several Procore/Xero pairs on one Prefect server keep separate histories.
    Prefect keys allow only lowercase letters, digits and dashes.
    """
    scope = [report.flow] if report.pair == "default" else [report.pair, report.flow]
    parts = ["trestle", *scope, kind]
    return re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-")


def integration_rows(report: RunReport) -> list[dict[str, Any]]:
    """One table row per integration: outcome, counts, review issues and API calls per system."""
    systems = sorted({system for item in report.integrations for system in item.api_usage})
    rows = []
    for item in report.integrations:
        row: dict[str, Any] = {"integration": item.title, "outcome": item.outcome}
        row.update({action: item.counts.get(action, 0) for action in COUNTED_ACTIONS})
        row["issues"] = item.issue_count
        for system in systems:
            usage = item.api_usage.get(system)
            row[f"{system}_calls"] = usage.calls if usage else 0
        row["seconds"] = round(item.seconds, 1)
        row["error"] = item.error or ""
        rows.append(row)
    return rows


def publish_run_artifacts(report: RunReport) -> None:
    """Attach the run summary to the current Prefect run: a table artifact (one row per
    integration), a table of every record written, skipped or failed (the email's CSV), and a
    markdown artifact (what needs action, then what changed, with links).

    Does nothing outside a Prefect run; logs and carries on if Prefect refuses the artifacts.
    """
    if not in_prefect_run():
        logger.debug("not in a Prefect run; run artifacts not published")
        return
    description = summary_subject(report)
    try:
        # _sync=True: engine code is synchronous even when an async flow calls it.
        create_table_artifact(
            table=integration_rows(report),
            key=artifact_key(report, "integrations"),
            description=f"Per-integration counts — {description}",
            _sync=True,  # type: ignore[call-arg]
        )
        create_table_artifact(
            table=record_rows(report),
            key=artifact_key(report, "records"),
            description=f"Every record written, skipped or failed — {description}",
            _sync=True,  # type: ignore[call-arg]
        )
        create_markdown_artifact(
            markdown=render_markdown(report),
            key=artifact_key(report, "summary"),
            description=description,
            _sync=True,  # type: ignore[call-arg]
        )
    except Exception:  # an artifact must never fail the run it describes
        logger.warning("could not publish the Prefect run artifacts", exc_info=True)


class ProgressReporter:
    """A Prefect progress bar for a long stage: ``start(total_hint)``, ``advance(n)``, ``finish()``.

    Safe to call unconditionally: outside a Prefect run, or after Prefect refused an update, it
    does nothing. Updates are sent at most every ``min_interval`` seconds (and only when the
    whole percentage moves) so a per-record ``advance`` does not become a per-record API call.
    The calls go out from :mod:`trestle.notifications.background`'s thread, in order: the
    listeners (the terminal's progress) hear at once, the Prefect UI once the queue reaches them.
    """

    def __init__(self, key: str | None = None, description: str = "Records processed", min_interval: float = 1.0):
        self.key = key
        self.description = description
        self.min_interval = min_interval
        self.total: int | None = None
        self.done = 0
        self._sending = False  # started inside a Prefect run
        self._artifact_id: UUID | None = None  # set on the background thread once Prefect made it
        self._refused = False
        self._shown_percent = -1
        self._last_update = 0.0

    @property
    def active(self) -> bool:
        """Whether updates reach Prefect (started inside a run and not disabled by an error)."""
        return self._sending and not self._refused

    @property
    def percent(self) -> float:
        """Progress so far; below 100 until :meth:`finish`, even when the hint was too small."""
        if not self.total:
            return 0.0
        return min(99.0, 100.0 * self.done / self.total)

    def start(self, total_hint: int | None) -> None:
        """Create the progress artifact at 0 % for about ``total_hint`` units of work."""
        self.total = total_hint if total_hint and total_hint > 0 else None
        self.done = 0
        self._shown_percent, self._last_update = 0, time.monotonic()
        self._tell_listeners(0.0)
        if not in_prefect_run():
            return
        self._sending = True
        background.send(self._create, self._describe())

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more units done and update the bar if it moved and was not just updated."""
        self.done += n
        if self.total and int(self.percent) <= self._shown_percent:
            return
        if time.monotonic() - self._last_update < self.min_interval:
            return
        self._update(self.percent)

    def finish(self) -> None:
        """Set the bar to 100 %."""
        self._update(100.0)

    def _update(self, percent: float) -> None:
        self._tell_listeners(percent)
        if self.active:
            background.send(self._send_update, percent, self._describe())
        self._shown_percent, self._last_update = int(percent), time.monotonic()

    def _create(self, description: str) -> None:
        """On the background thread: make the artifact (before any update, which is queued after)."""
        self._artifact_id = self._call(create_progress_artifact, progress=0.0, key=self.key, description=description)

    def _send_update(self, percent: float, description: str) -> None:
        if self._artifact_id is not None:
            self._call(
                update_progress_artifact, artifact_id=self._artifact_id, progress=percent, description=description
            )

    def _tell_listeners(self, percent: float) -> None:
        for listener in PROGRESS_LISTENERS:
            listener(self.description, percent if self.total or percent >= 100 else None, self.done)

    def _describe(self) -> str:
        of_total = f" of about {self.total}" if self.total else ""
        return f"{self.description}: {self.done}{of_total}"

    def _call(self, function: Any, **kwargs: Any) -> Any:
        try:
            return function(**kwargs, _sync=True)
        except Exception:  # progress is decoration; stop trying rather than fail or spam the log
            logger.warning("could not update the Prefect progress artifact; giving up on it", exc_info=True)
            self._refused = True
            self._artifact_id = None
            return None
