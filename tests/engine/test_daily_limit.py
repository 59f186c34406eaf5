"""Xero's daily API limit reached in the middle of a nightly run: stop, say so, finish next run.

A fault-free nightly on the seeded sandboxes is the reference. A second install on the same
seeded data gets a Xero day budget (the sandbox's control plane) that runs out halfway through
progress claims, the last integration writing to Xero; that run must stop cleanly (no crash, every integration
reported, those cut short saying the daily limit stopped them and how many Xero calls are left).
With the budget restored, the next run must leave both systems equal to the reference's.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.chaos.harness import Books, Tally
from trestle.cli import run_flow
from trestle.db import make_engine, upgrade
from trestle.flows import get_flow
from trestle.integrations.progress_claims import ProgressClaimsIntegration
from trestle.models.store import LinkStore
from trestle.models.tables import Link, WriteIntent

DAILY_LIMIT_ERROR = "Xero's daily API limit was reached"


def nightly() -> dict[str, Any]:
    return run_flow(get_flow("nightly"), notify=False)


def links_per_entity(database_url: str) -> Counter[str]:
    store = LinkStore(make_engine(database_url), "default")
    with store.session() as session:
        return Counter(dict(session.execute(select(Link.entity, func.count()).group_by(Link.entity)).all()))


def pending_intents(database_url: str) -> int:
    store = LinkStore(make_engine(database_url), "default")
    with store.session() as session:
        query = select(func.count()).select_from(WriteIntent).where(WriteIntent.status == "pending")
        return session.scalar(query) or 0


def set_day_budget(env: dict[str, str], remaining: int | None) -> None:
    url = f"{env['TRESTLE_XERO_API_URL']}/_sandbox/rate-limits/day"
    httpx.post(url, json={"day_remaining": remaining}).raise_for_status()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_daily_limit_mid_run_stops_cleanly_and_the_next_run_finishes(
    trestle_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the small data's claims fit one batch of 50: smaller batches make them take several calls
    monkeypatch.setattr(ProgressClaimsIntegration, "write_batch_size", 5)
    reference = nightly()
    assert reference["outcome"] != "failed", reference
    reference_books, reference_links = Books(trestle_env), links_per_entity(trestle_env["TRESTLE_DATABASE_URL"])
    xero_calls = reference["api_calls"]["xero"]
    calls = {name: item["api_calls"].get("xero", 0) for name, item in reference["integrations"].items()}
    assert calls["progress_claims"] >= 2, "progress claims must take several Xero calls to run out inside it"

    for setting in ("TRESTLE_XERO_API_URL", "TRESTLE_PROCORE_API_URL"):
        httpx.post(f"{trestle_env[setting]}/_sandbox/reset", json={}).raise_for_status()
    database_url = f"sqlite:///{tmp_path / 'limited.db'}"
    upgrade(make_engine(database_url))
    monkeypatch.setenv("TRESTLE_DATABASE_URL", database_url)
    # runs out halfway through progress claims: every Xero call of the integrations after it (in the
    # nightly's order) is left out of the budget, and half of progress claims' own
    order = list(reference["integrations"])
    after_claims = sum(calls[name] for name in order[order.index("progress_claims") + 1 :])
    set_day_budget(trestle_env, xero_calls - after_claims - calls["progress_claims"] // 2)

    limited = nightly()
    reports = limited["integrations"]
    stopped = {name: item for name, item in reports.items() if DAILY_LIMIT_ERROR in (item["error"] or "")}
    assert stopped, f"the daily limit stopped no integration: {limited}"
    assert limited["outcome"] == "failed" and limited["exit_code"] != 0
    assert set(limited["integrations"]) == set(reference["integrations"]), "every integration is reported"
    for name, item in stopped.items():
        assert item["outcome"] == "failed", (name, item)
        assert "finished by the next run" in item["error"]
    assert any(item["api_remaining"].get("xero", {}).get("day") == 0 for item in limited["integrations"].values()), (
        "the report shows no Xero calls left"
    )
    assert "progress_claims" in stopped, stopped

    set_day_budget(trestle_env, None)  # the next day
    assert Books(trestle_env).records != reference_books.records, "the limited run did not stop short"
    resumed = nightly()
    assert resumed["outcome"] != "failed", resumed
    tally = Tally()
    Books(trestle_env).compare(reference_books, tally)
    assert (tally.duplicates, tally.missing, tally.amount_differences) == (0, 0, 0), tally.details
    assert links_per_entity(database_url) == reference_links
    assert pending_intents(database_url) == 0
