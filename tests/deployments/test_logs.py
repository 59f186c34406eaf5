"""A run's Logs tab tells the story: Trestle's own lines, with counts for every stage, read back from Prefect.

The runs go through a real (temporary) Prefect API against the sandboxes over HTTP; the logs
and task runs are read back through that API as the UI reads them.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
    TaskRunFilter,
)
from prefect.client.schemas.sorting import FlowRunSort

from trestle.cli import run_flow
from trestle.flows import get_flow
from trestle.tasks.pipeline import BATCH_RECORDS

STAGES = ("prepare", "validate", "match", "map", "write", "record", "report")  # "recover" only when writes are pending


def _latest_run_id(flow_name: str) -> Any:
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])), sort=FlowRunSort.START_TIME_DESC, limit=1
        )
    assert runs, f"no {flow_name} flow run"
    return runs[0].id


def _messages(flow_run_id: Any, until: str, timeout: float = 30) -> list[tuple[int, str]]:
    """The run's log records once one containing ``until`` arrived (logs reach the API in batches)."""
    deadline = time.monotonic() + timeout
    while True:
        with get_client(sync_client=True) as client:
            logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), limit=200)
        messages = [(log.level, log.message) for log in logs]
        if any(until in text for _, text in messages) or time.monotonic() > deadline:
            return messages
        time.sleep(0.5)


def _task_run_names(flow_run_id: Any) -> list[str]:
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])), task_run_filter=TaskRunFilter()
        )
    return [run.name for run in runs]


@pytest.mark.slow
def test_a_commitments_run_logs_every_stage_with_counts_and_its_issues(trestle_env: dict[str, str]) -> None:
    for name in ("vendors", "projects", "cost_codes"):
        run_flow(get_flow(name), notify=False)
    summary = run_flow(get_flow("commitments"), notify=False)["integrations"]["commitments"]
    flow_name = get_flow("commitments").name
    run_id = _latest_run_id(flow_name)
    messages = _messages(run_id, until="Commitments: API calls")
    story = [text for level, text in messages if text.startswith("Commitments: ")]
    lines = "\n".join(story)
    fetched = sum(summary[action] for action in ("created", "updated", "unchanged", "skipped", "failed"))
    for expected in (
        f"fetched {fetched} record(s)",
        "valid,",
        "matched",
        f"planned {summary['created']} create(s)",
        f"wrote {summary['created']} created, {summary['updated']} updated",
        "review issues",
        "API calls ",
        "procore ",
        "xero ",
    ):
        assert expected in lines, f"{expected!r} not in the Logs tab:\n{lines}"
    warnings = [text for level, text in messages if level >= 30 and "review issue" in text]
    assert len(warnings) == summary["review_issues"], (warnings, summary)

    tasks = _task_run_names(run_id)
    batches = max(1, -(-fetched // BATCH_RECORDS))
    # A task per stage and batch (plus a recheck batch), never one per source page.
    assert len(tasks) <= len(STAGES) + 5 * (batches + 1) + 2, sorted(tasks)


@pytest.mark.slow
def test_a_dry_run_says_so_in_its_logs(trestle_env: dict[str, str]) -> None:
    run_flow(get_flow("vendors"), notify=False, dry_run=True)
    messages = [text for _, text in _messages(_latest_run_id(get_flow("vendors").name), until="Vendors: API calls")]
    assert any("Vendors: started (dry run: nothing is written)" in text for text in messages), messages
    assert any(text.startswith("Vendors: planned") for text in messages), messages
