"""Prefect artifacts, read back from a real (temporary) Prefect server."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.client.schemas.objects import Artifact

from tests.notifications.reports import nightly_report
from trestle.models.report import RunReport
from trestle.notifications import background
from trestle.notifications.artifacts import ProgressReporter, artifact_key, publish_run_artifacts

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


@pytest.fixture
def prefect_server(prefect_harness: None) -> None:
    """The session's temporary Prefect API (tests/conftest.py)."""


def read_artifacts(flow_run_id: Any) -> list[Artifact]:
    """The artifacts of one flow run, read back through Prefect's client."""
    artifact_filter = ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
    with get_client(sync_client=True) as client:
        return client.read_artifacts(artifact_filter=artifact_filter)


@flow
def summarising_flow(report: RunReport, records: int) -> str:
    """What an integration flow does: report progress per record, then publish the summary."""
    from prefect.runtime import flow_run

    progress = ProgressReporter(key=artifact_key(report, "progress"), min_interval=0)
    progress.start(total_hint=records)
    for _ in range(records):
        progress.advance()
    progress.finish()
    publish_run_artifacts(report)
    background.drain()  # what the flows do before they end (trestle.flows.common.execute)
    return str(flow_run.id)


def test_flow_publishes_table_markdown_and_progress(prefect_server: None) -> None:
    report = nightly_report()
    flow_run_id = summarising_flow(report, records=4)

    artifacts = {artifact.key: artifact for artifact in read_artifacts(flow_run_id)}
    assert set(artifacts) == {
        "trestle-acme-nightly-integrations",
        "trestle-acme-nightly-summary",
        "trestle-acme-nightly-records",
        "trestle-acme-nightly-progress",
    }

    table = artifacts["trestle-acme-nightly-integrations"]
    assert table.type == "table"
    rows = json.loads(str(table.data))
    assert [row["integration"] for row in rows] == ["Vendors", "Commitments"]
    assert rows[0] | {"seconds": None} == {
        "integration": "Vendors",
        "outcome": "issues",
        "created": 1,
        "updated": 1,
        "unchanged": 5,
        "skipped": 1,
        "failed": 0,
        "deleted": 0,
        "issues": 1,
        "procore_calls": 4,
        "xero_calls": 6,
        "seconds": None,
        "error": "",
    }
    assert rows[1]["failed"] == 1 and rows[1]["xero_calls"] == 9

    records = json.loads(str(artifacts["trestle-acme-nightly-records"].data))
    written = [o for item in report.integrations for o in item.outcomes]
    assert [row["record"] for row in records] == [o.label for o in written]
    assert {row["status"] for row in records} == {o.action for o in written}

    summary = artifacts["trestle-acme-nightly-summary"]
    assert summary.type == "markdown"
    assert summary.description == "Trestle [acme] nightly: 2 created, 2 updated, 1 failed, 2 issues"
    markdown = str(summary.data)
    assert "**Totals:** 2 created · 2 updated · 5 unchanged · 1 skipped · 1 failed · 2 issues" in markdown
    for outcome in report.integrations[0].outcomes:
        if outcome.target_url:
            assert f"[Xero]({outcome.target_url})" in markdown
    assert "Commitments: A line's cost code is missing" in markdown
    assert markdown.index("## Needs action (2)") < markdown.index("## What changed")

    progress = artifacts["trestle-acme-nightly-progress"]
    assert progress.type == "progress"
    assert progress.data == 100.0
    assert progress.description == "Records processed: 4 of about 4"


def test_default_pair_keys_are_short(prefect_server: None) -> None:
    report = nightly_report().model_copy(update={"pair": "default", "flow": "vendors"})
    flow_run_id = summarising_flow(report, records=0)

    keys = {artifact.key for artifact in read_artifacts(flow_run_id)}
    assert keys == {
        "trestle-vendors-integrations",
        "trestle-vendors-summary",
        "trestle-vendors-records",
        "trestle-vendors-progress",
    }


def test_nothing_happens_outside_a_prefect_run() -> None:
    progress = ProgressReporter(key="trestle-outside-progress")
    progress.start(total_hint=10)
    progress.advance(5)
    progress.finish()

    assert not progress.active
    assert progress.done == 5
    publish_run_artifacts(nightly_report())  # returns quietly: no run to attach to, no server needed
