"""Direct costs are written in steps (headers, lines, lock; new bills a project at a time): a run killed
between them is finished by the next run on the same direct costs, never a second header, never a line twice."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.engine.test_vendors_flow import _run_cli
from tests.integrations.apis import procore_api
from tests.integrations.test_direct_invoices import link_prerequisites, project_ids, store_for
from trestle.integrations.direct_cost_writer import MARK_PREFIX
from trestle.integrations.direct_invoices import split_targets
from trestle.models.tables import WriteIntent
from trestle.tasks.faults import CRASH_EXIT_CODE


def every_direct_cost(env: dict[str, str], projects: set[int]) -> list[dict[str, Any]]:
    """Every live direct cost of the projects, shown with its lines (v1.1 show)."""
    found = []
    with procore_api(env) as api:
        for project_id in projects:
            listed = api.get(f"/rest/v1.1/projects/{project_id}/direct_costs", params={"per_page": 1000}).json()
            for item in listed:
                shown = api.get(f"/rest/v1.1/projects/{project_id}/direct_costs/{item['id']}").json()
                found.append({**shown, "project_id": project_id})
    return found


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "point, lines_left",
    [("direct-cost-after-header", "none"), ("direct-cost-after-line", "some")],
)
def test_a_kill_between_header_and_lines_is_finished_on_the_same_direct_cost(
    point: str, lines_left: str, trestle_env: dict[str, str]
) -> None:
    link_prerequisites()
    crashed = _run_cli(trestle_env, "run", "direct_invoices", "--json", "--no-email", extra={"TRESTLE_CRASH_AT": point})
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.stderr[-2000:]
    store = store_for(trestle_env)
    projects = project_ids(store)
    halves = every_direct_cost(trestle_env, projects)  # the headers written before the kill; lines: the first project's
    assert halves
    for half in halves:
        assert half["origin_id"] is None and half["origin_data"].startswith(MARK_PREFIX), "half-written: marked"
    assert any(half["line_items"] for half in halves) == (lines_left == "some")
    assert store.links("direct_cost") == []

    rerun = _run_cli(trestle_env, "run", "direct_invoices", "--json", "--no-email")
    summary = json.loads(rerun.stdout)["integrations"]["direct_invoices"]
    assert summary["outcome"] in ("success", "issues"), summary
    assert summary["failed"] == 0, summary
    assert any("finished" in note for note in summary["notes"]), summary["notes"]

    costs = every_direct_cost(trestle_env, projects)
    parts = {dc for link in store.links("direct_cost") for dc in split_targets(link.procore_id).values()}
    assert sorted(cost["id"] for cost in costs) == sorted(parts), "every direct cost linked, none twice"
    for half in halves:
        assert half["id"] in parts, "each half-written direct cost was finished, not written again"
        finished = next(cost for cost in costs if cost["id"] == half["id"])
        assert finished["origin_id"] == half["origin_data"].removeprefix(MARK_PREFIX)
        assert finished["status"] == "approved"
        line_keys = [line["origin_id"] for line in finished["line_items"]]
        assert line_keys and len(line_keys) == len(set(line_keys)), "each line once"
    assert all(cost["origin_id"] for cost in costs), "no direct cost left unlocked"
    with store.session() as session:
        pending = session.scalar(select(func.count()).select_from(WriteIntent).where(WriteIntent.status == "pending"))
    assert pending == 0
