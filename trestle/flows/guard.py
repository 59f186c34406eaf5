"""The late-run guard: after an outage, only the newest of a pile of late scheduled runs works.

Prefect keeps scheduled runs that could not start (a stopped worker, a server outage) and
starts them late, one after another. For a sync, only the newest matters: the others would
redo the same work. A scheduled run that starts more than ``grace`` late and sees a newer
run of its deployment already due ends at once as Completed ("superseded"). Ad-hoc runs
(no schedule) and runs outside a deployment are never skipped.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from trestle.timeutil import to_utc, utcnow

logger = logging.getLogger("trestle.flows")

DEFAULT_GRACE = timedelta(minutes=60)


def newer_due_runs(client: Any, deployment_id: Any, flow_run_id: Any, scheduled: datetime, now: datetime) -> list[Any]:
    """Runs of the same deployment scheduled after ``scheduled`` and due by ``now`` (not yet started)."""
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterExpectedStartTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    runs = client.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
        flow_run_filter=FlowRunFilter(
            expected_start_time=FlowRunFilterExpectedStartTime(after_=scheduled, before_=now),
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED, StateType.PENDING])),
        ),
        limit=10,
    )
    return [
        run for run in runs if run.id != flow_run_id and run.expected_start_time and run.expected_start_time > scheduled
    ]


def superseded_reason(grace: timedelta = DEFAULT_GRACE) -> str | None:
    """Why this flow run should not work (it is a late run with a newer one due), or None."""
    try:
        from prefect.client.orchestration import get_client
        from prefect.context import FlowRunContext

        # The run's own record, already in memory: ``prefect.runtime.deployment.id`` would read
        # the flow run back from the API for every run outside a deployment (about 0.15 s each).
        run = FlowRunContext.get().flow_run  # type: ignore[union-attr]
        deployment_id, run_id, scheduled = run.deployment_id, run.id, run.expected_start_time  # type: ignore[union-attr]
    except Exception:  # outside a Prefect run: nothing to guard
        return None
    if not deployment_id or not scheduled:
        return None
    scheduled, now = to_utc(scheduled), utcnow()
    if now - scheduled < grace:
        return None
    try:
        with get_client(sync_client=True) as client:
            newer = newer_due_runs(client, deployment_id, run_id, scheduled, now)
    except Exception as exc:  # never block a run because the check itself failed
        logger.warning("late-run check failed, running anyway: %s", exc)
        return None
    if not newer:
        return None
    latest = max(run.expected_start_time for run in newer)
    return (
        f"superseded: scheduled for {scheduled:%Y-%m-%d %H:%M} UTC and started {now - scheduled} late; "
        f"a newer run (due {latest:%Y-%m-%d %H:%M} UTC) does the same work"
    )
