"""Debug mode tells the whole truth: a dry nightly carries the links it would make to the
integrations after it, so it would create and update exactly what a real nightly then does."""

from __future__ import annotations

import pytest

from tests.integrations.apis import api_writes
from trestle.cli import run_flow
from trestle.db import make_engine
from trestle.flows import get_flow
from trestle.models.store import LinkStore


def planned(summary: dict) -> dict[str, tuple[int, int]]:
    return {name: (item["created"], item["updated"]) for name, item in summary["integrations"].items()}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_dry_nightly_would_write_what_the_real_nightly_then_writes(trestle_env: dict[str, str]) -> None:
    urls = (trestle_env["TRESTLE_XERO_API_URL"], trestle_env["TRESTLE_PROCORE_API_URL"])
    writes_before = [api_writes(url) for url in urls]

    dry = run_flow(get_flow("nightly"), dry_run=True, notify=False)
    assert dry["dry_run"] is True
    assert [api_writes(url) for url in urls] == writes_before, "a dry run writes nothing"
    store = LinkStore(make_engine(trestle_env["TRESTLE_DATABASE_URL"]), "default")
    assert all(not store.links(entity) for entity in ("vendor", "project", "cost_code", "commitment"))

    real = run_flow(get_flow("nightly"), dry_run=False, notify=False)
    assert real["integrations"]["commitments"]["created"] > 0
    assert real["integrations"]["progress_claims"]["created"] > 0
    assert planned(dry) == planned(real)


def _unsent_project_with_commitments() -> str:
    """The number of an active project with commitments and no Xero option yet (so not linked)."""
    from collections import Counter

    from trestle.sandbox.scenario import build_scenario

    scenario = build_scenario("small", 1)
    per_project = Counter(commitment.project_key for commitment in scenario.commitments)
    candidates = [p for p in scenario.projects if p.active and p.number and not p.xero_option and not p.planted]
    return max(candidates, key=lambda p: per_project[p.key]).number or ""


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_dry_single_project_would_write_what_the_real_one_then_writes(trestle_env: dict[str, str]) -> None:
    for name in ("vendors", "cost_codes"):  # what single-project expects to be linked already
        run_flow(get_flow(name), notify=False)
    number = _unsent_project_with_commitments()

    dry = run_flow(get_flow("single_project"), project_number=number, dry_run=True, notify=False)
    real = run_flow(get_flow("single_project"), project_number=number, dry_run=False, notify=False)

    assert real["integrations"]["projects"]["created"] == 1
    assert real["integrations"]["commitments"]["created"] > 0, "the project's option is what its orders need"
    assert planned(dry) == planned(real)
