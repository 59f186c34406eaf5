"""Prefect's own scheduler on the install ``trestle up`` starts: runs are created and fire.

The shared ``trestle up`` runs in a folder whose ``trestle.toml`` schedules ``vendors`` every
minute on its own in Pacific/Auckland time and pauses ``weekly-full-refresh``
(tests/deployments/install.py). Nothing here creates a run: the server's scheduler does.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.deployments.install import FAST_DEPLOYMENT, FAST_INTERVAL, FAST_TIMEZONE, PAUSED_DEPLOYMENT, ROOT, Up
from trestle.deployments.catalog import DEFAULT_TIMEZONE, deployment_specs

pytestmark = pytest.mark.timeout(600)
FAILED = {"FAILED", "CRASHED", "CANCELLED"}


def _runs_of(up: Up, deployment: dict[str, Any], *states: str) -> list[dict[str, Any]]:
    """The runs Prefect's scheduler made for ``deployment`` (in ``states``, when given)."""
    flow_runs = {"state": {"type": {"any_": list(states)}}} if states else {}
    body = {"deployments": {"id": {"any_": [deployment["id"]]}}, "flow_runs": flow_runs, "limit": 200}
    return [run for run in up.api("POST", "/flow_runs/filter", json=body) if run["auto_scheduled"]]


def test_the_scheduler_creates_runs_for_every_active_schedule_within_two_minutes(up: Up) -> None:
    scheduled = {spec.name for spec in deployment_specs() if spec.cron} - {PAUSED_DEPLOYMENT} | {FAST_DEPLOYMENT}
    deployments = {item["name"]: item for item in up.api("POST", "/deployments/filter", json={})}
    active = {name for name, item in deployments.items() if any(s["active"] for s in item["schedules"])}
    assert active == scheduled, "the active schedules are the catalog's, as trestle.toml changed them"
    fast = deployments[FAST_DEPLOYMENT]["schedules"][0]["schedule"]
    assert (fast["interval"], fast["timezone"]) == (FAST_INTERVAL, FAST_TIMEZONE), fast

    deadline, waiting = time.monotonic() + 120, sorted(scheduled)
    while waiting:
        waiting = [name for name in waiting if not _runs_of(up, deployments[name])]
        if waiting:
            assert time.monotonic() < deadline, f"no scheduled run after 120 s for {waiting}:\n{up.server_log()}"
            time.sleep(2)
    assert _runs_of(up, deployments["nightly"], "SCHEDULED"), "the 02:00 nightly run is waiting"
    assert not _runs_of(up, deployments[PAUSED_DEPLOYMENT]), "a paused schedule creates no run"


def test_a_scheduled_run_that_comes_due_is_picked_up_and_completes(up: Up) -> None:
    deployment = up.api.deployment(FAST_DEPLOYMENT)
    deadline = time.monotonic() + 240
    while True:
        runs = _runs_of(up, deployment, "COMPLETED", *FAILED)
        assert not [run for run in runs if run["state_type"] in FAILED], f"{runs}\n{up.serve_log()}"
        if runs:
            break
        assert time.monotonic() < deadline, f"no scheduled {FAST_DEPLOYMENT} run completed in 240 s\n{up.serve_log()}"
        time.sleep(2)
    run = runs[0]
    assert run["parameters"] == {"dry_run": False, "full_refresh": False, "notify": True}
    due = dt.datetime.fromisoformat(run["expected_start_time"])
    assert (due.second, due.microsecond) == (0, 0), f"the interval counts from a round anchor: {due}"


def test_serve_restores_the_configured_schedules_over_edits_in_the_ui(up: Up, quiet_schedules: None) -> None:
    """What ``trestle serve`` does when it starts (it applies each deployment), against the live server."""
    nightly, projects = up.api.deployment("nightly"), up.api.deployment("projects")
    edit = {"schedule": {"cron": "0 5 * * *", "timezone": "UTC"}, "active": False}
    up.api("PATCH", f"/deployments/{nightly['id']}/schedules/{nightly['schedules'][0]['id']}", json=edit)
    up.api("POST", f"/deployments/{projects['id']}/schedules", json=[{"schedule": {"cron": "0 9 * * *"}}])
    assert up.api.deployment("nightly")["schedules"][0]["schedule"]["cron"] == "0 5 * * *"
    assert len(up.api.deployment("projects")["schedules"]) == 1

    env = {key: value for key, value in os.environ.items() if not key.startswith("TRESTLE_")}
    env.update({"PREFECT_API_URL": up.api_url, "TRESTLE_PROJECT_DIR": str(ROOT)})
    script = (
        "from trestle.deployments.serve import runner_deployments\n"
        "for deployment in runner_deployments():\n"
        "    if deployment.name in ('nightly', 'projects'):\n"
        "        deployment.apply()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=up.cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr

    restored = up.api.deployment("nightly")["schedules"]
    assert [(s["schedule"]["cron"], s["schedule"]["timezone"], s["active"]) for s in restored] == [
        ("0 2 * * *", DEFAULT_TIMEZONE, True)
    ], "the configuration wins over the UI edit"
    assert up.api.deployment("projects")["schedules"] == [], "a schedule added in the UI is removed"
