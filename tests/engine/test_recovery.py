"""A run killed between a remote write and its local commit is finished by the next run, for the
integrations whose writes need what ``prepare`` loads (the Xero tracking category)."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import func, select

from tests.engine.test_vendors_flow import _run_cli
from trestle.db import make_engine
from trestle.models.store import LinkStore
from trestle.models.tables import WriteIntent
from trestle.tasks.faults import CRASH_EXIT_CODE


def tracking_options(env: dict[str, str]) -> int:
    counts = httpx.get(f"{env['TRESTLE_XERO_API_URL']}/_sandbox/stats").json()["objects"]
    return int(counts["tracking_options"])


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("name, entity", [("projects", "project"), ("cost_codes", "cost_code")])
def test_a_kill_after_a_tracking_write_is_finished_by_the_next_run(
    name: str, entity: str, trestle_env: dict[str, str]
) -> None:
    before = tracking_options(trestle_env)
    crashed = _run_cli(
        trestle_env, "run", name, "--json", "--no-email", extra={"TRESTLE_CRASH_AT": "after-remote-write"}
    )
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.stderr[-2000:]
    written_by_crash = tracking_options(trestle_env) - before
    assert written_by_crash > 0, "the killed run did reach Xero"

    rerun = _run_cli(trestle_env, "run", name, "--json", "--no-email")
    summary = json.loads(rerun.stdout)["integrations"][name]
    assert summary["outcome"] in ("success", "issues"), summary
    assert "AttributeError" not in rerun.stderr
    written = tracking_options(trestle_env) - before
    assert summary["created"] == written >= written_by_crash, (
        "the rerun finished the killed run's writes (and the rest), reported them, and wrote nothing twice"
    )
    assert any("finished" in note for note in summary["notes"]), summary["notes"]
    store = LinkStore(make_engine(trestle_env["TRESTLE_DATABASE_URL"]), "default")
    assert len(store.links(entity)) >= written_by_crash
    with store.session() as session:
        pending = session.scalar(select(func.count()).select_from(WriteIntent).where(WriteIntent.status == "pending"))
    assert pending == 0
