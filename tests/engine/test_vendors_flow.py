"""The vendors integration end to end: sandboxes over HTTP, a real database (SQLite and Postgres)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from trestle.cli import run_flow
from trestle.db import make_engine
from trestle.flows.integrations import vendors_flow
from trestle.models.store import LinkStore
from trestle.models.tables import Link, WriteIntent
from trestle.sandbox.scenario import build_scenario

SCENARIO = build_scenario("small", 1)


def run_vendors(**params: Any) -> dict[str, Any]:
    """Run the flow in this process as the CLI does, and return the run's summary."""
    params.setdefault("notify", False)
    return run_flow(vendors_flow, **params)


def sandbox_stats(url: str) -> dict[str, Any]:
    return httpx.get(f"{url}/_sandbox/stats").json()


def writes(stats: dict[str, Any]) -> int:
    return sum(
        count
        for key, count in stats["requests"].items()
        if key.split(" ")[0] in {"POST", "PUT", "PATCH", "DELETE"}
        and "/_sandbox" not in key
        and "/oauth" not in key
        and "/connect" not in key
    )


def store_for(env: dict[str, str]) -> LinkStore:
    return LinkStore(make_engine(env["TRESTLE_DATABASE_URL"]), "default")


def all_procore_vendors(env: dict[str, str]) -> list[dict[str, Any]]:
    """Every vendor in the Procore sandbox (active and inactive), read over its API."""
    token = httpx.post(
        f"{env['TRESTLE_PROCORE_LOGIN_URL']}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": env["TRESTLE_PROCORE_CLIENT_ID"],
            "client_secret": env["TRESTLE_PROCORE_CLIENT_SECRET"],
        },
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Procore-Company-Id": env["TRESTLE_PROCORE_COMPANY_ID"]}
    company = env["TRESTLE_PROCORE_COMPANY_ID"]
    base = env["TRESTLE_PROCORE_API_URL"]
    active = httpx.get(f"{base}/rest/v1.0/vendors", params={"company_id": company, "per_page": 1000}, headers=headers)
    inactive = httpx.get(
        f"{base}/rest/v1.0/companies/{company}/vendors/inactive", params={"per_page": 1000}, headers=headers
    )
    return active.json() + inactive.json()


def group_members() -> list[Any]:
    return [p for p in SCENARIO.parties if p.in_procore_group and not p.xero_archived]


def test_first_run_creates_and_links_then_second_run_writes_nothing(trestle_env: dict[str, str]) -> None:
    before = {v["id"] for v in all_procore_vendors(trestle_env)}
    summary = run_vendors()
    vendors = summary["integrations"]["vendors"]
    members = group_members()
    assert vendors["created"] + vendors["updated"] + vendors["unchanged"] + vendors["skipped"] == len(members)
    assert vendors["created"] > 0
    after = all_procore_vendors(trestle_env)
    created = [v for v in after if v["id"] not in before]
    assert len(created) == vendors["created"]
    origin_ids = Counter(v.get("origin_id") for v in after if v.get("origin_id"))
    assert all(count == 1 for count in origin_ids.values()), "a contact was written twice"

    store = store_for(trestle_env)
    links = store.links("vendor")
    assert len(links) == vendors["created"] + vendors["updated"] + vendors["unchanged"]
    by_procore = {str(v["id"]): v for v in after}
    for link in links:
        assert by_procore[link.procore_id]["origin_id"] == link.xero_id
    # Paths the small dataset plants: a region given by name, a vendor matched only by tax number.
    sent = {(link.last_payload or {}).get("name"): link for link in links}
    assert sent["Waratah Access Scaffolding Pty Ltd"].last_payload["state_code"] == "NSW"
    assert int(sent["Tumbarumba Civil Pty Ltd"].procore_id) in before, "linked to the existing vendor, not created"

    procore_url = trestle_env["TRESTLE_PROCORE_API_URL"]
    writes_before = writes(sandbox_stats(procore_url))
    second = run_vendors()["integrations"]["vendors"]
    assert second["created"] == 0 and second["updated"] == 0 and second["failed"] == 0
    full = run_vendors(full_refresh=True)["integrations"]["vendors"]
    assert full["created"] == full["updated"] == 0
    assert full["unchanged"] == len(links), "a full re-read finds every linked contact unchanged"
    assert writes(sandbox_stats(procore_url)) == writes_before, "the second run wrote to Procore"


def test_every_planted_problem_is_a_named_issue_and_the_run_goes_on(trestle_env: dict[str, str]) -> None:
    summary = run_vendors()
    vendors = summary["integrations"]["vendors"]
    assert vendors["outcome"] == "issues"
    issues = store_for(trestle_env).open_issues(integration="vendors")
    by_code: dict[str, set[str]] = {}
    for issue in issues:
        by_code.setdefault(issue.code, set()).add(issue.label)
    planted: dict[str, set[str]] = {}
    for party in group_members():
        for code in party.planted:
            planted.setdefault(code, set()).add(party.xero_name or "")
    # issue code raised -> what the scenario calls the problem it planted
    planted_as = {
        "contact.invalid_region": "contact.invalid_region",
        "vendor.multiple_matches": "vendor.multiple_matches",
        "vendor.inactive": "vendor.inactive_needs_update",
    }
    for code, plant in planted_as.items():
        expected = planted.get(plant, set())
        assert expected, f"the small dataset should plant {code}"
        assert expected <= by_code.get(code, set()), f"{code}: expected {expected}, got {by_code.get(code)}"
    multiple = next(issue for issue in issues if issue.code == "vendor.multiple_matches")
    assert len(multiple.details["candidates"]) >= 2
    assert vendors["created"] > 0, "the other records still synced"


def test_missing_contact_group_blocks_the_run_and_writes_nothing(
    trestle_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRESTLE_SYNC_CONTACT_GROUP", "Subcontractors (Procore)")
    procore_url = trestle_env["TRESTLE_PROCORE_API_URL"]
    writes_before = writes(sandbox_stats(procore_url))
    summary = run_vendors()
    vendors = summary["integrations"]["vendors"]
    assert vendors["outcome"] == "blocked"
    assert "Subcontractors (Procore)" in vendors["notes"][0]
    assert vendors["created"] == vendors["updated"] == 0
    assert writes(sandbox_stats(procore_url)) == writes_before
    issues = store_for(trestle_env).open_issues(integration="vendors")
    assert [issue.code for issue in issues] == ["vendors.contact_group_missing"]
    assert summary["exit_code"] == 1


def test_dry_run_reports_what_it_would_write_and_writes_nothing(trestle_env: dict[str, str]) -> None:
    procore_url = trestle_env["TRESTLE_PROCORE_API_URL"]
    writes_before = writes(sandbox_stats(procore_url))
    summary = run_vendors(dry_run=True)
    vendors = summary["integrations"]["vendors"]
    assert summary["dry_run"] is True
    assert vendors["created"] > 0
    assert vendors["review_issues"] > 0
    assert writes(sandbox_stats(procore_url)) == writes_before
    store = store_for(trestle_env)
    assert store.links("vendor") == []
    assert store.open_issues() == []
    real = run_vendors()["integrations"]["vendors"]
    assert real["created"] == vendors["created"], "the dry run predicted the real run"


def _run_cli(env: dict[str, str], *args: str, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    from prefect.settings import PREFECT_API_URL

    full_env = {**os.environ, **env, **(extra or {})}
    api_url = PREFECT_API_URL.value()
    if api_url:
        full_env["PREFECT_API_URL"] = api_url
    return subprocess.run(
        [sys.executable, "-m", "trestle.cli", *args], env=full_env, capture_output=True, text=True, timeout=240
    )


def test_crash_between_remote_write_and_local_commit_never_duplicates(trestle_env: dict[str, str]) -> None:
    crashed = _run_cli(
        trestle_env, "run", "vendors", "--json", "--no-email", extra={"TRESTLE_CRASH_AT": "after-remote-write"}
    )
    assert crashed.returncode == 70, crashed.stderr[-2000:]
    store = store_for(trestle_env)
    assert store.links("vendor") == [], "the crash happened before the local commit"
    with store.session() as session:
        pending = session.scalar(select(func.count()).select_from(WriteIntent).where(WriteIntent.status == "pending"))
    assert pending > 0, "the intents were recorded before the write"
    written_by_crash = [v for v in all_procore_vendors(trestle_env) if v.get("origin_id")]
    assert written_by_crash, "the crashed run did write to Procore"

    rerun = _run_cli(trestle_env, "run", "vendors", "--json", "--no-email")
    assert rerun.returncode in (0, 1), rerun.stderr[-2000:]
    summary = json.loads(rerun.stdout)  # progress goes to stderr, so stdout stays JSON
    assert "records processed" in rerun.stderr and "100%" in rerun.stderr, "the terminal shows progress"
    vendors = all_procore_vendors(trestle_env)
    origin_ids = Counter(v.get("origin_id") for v in vendors if v.get("origin_id"))
    assert all(count == 1 for count in origin_ids.values()), "the rerun created duplicates"
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(WriteIntent).where(WriteIntent.status == "pending")) == 0
        linked = session.scalar(select(func.count()).select_from(Link))
    assert linked == len(origin_ids)
    assert "finished" in " ".join(summary["integrations"]["vendors"]["notes"])
    vendors_summary = summary["integrations"]["vendors"]
    assert vendors_summary["created"] + vendors_summary["updated"] >= len(written_by_crash), (
        "writes finished after the crash are reported as created or updated, not as unchanged"
    )


def test_two_runs_at_once_create_no_duplicates(trestle_env: dict[str, str]) -> None:
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, **trestle_env}
    if PREFECT_API_URL.value():
        env["PREFECT_API_URL"] = PREFECT_API_URL.value()
    command = [sys.executable, "-m", "trestle.cli", "run", "vendors", "--json", "--no-email"]
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outputs = [process.communicate(timeout=240) for process in (first, second)]
    for process, (_stdout, stderr) in zip((first, second), outputs, strict=True):
        assert process.returncode in (0, 1), stderr[-2000:]
    summaries = [json.loads(stdout)["integrations"]["vendors"] for stdout, _ in outputs]
    assert sum(s["created"] for s in summaries) == max(s["created"] for s in summaries), "both runs created"
    origin_ids = Counter(v.get("origin_id") for v in all_procore_vendors(trestle_env) if v.get("origin_id"))
    assert all(count == 1 for count in origin_ids.values())


def test_review_list_finds_a_record_by_name(trestle_env: dict[str, str]) -> None:
    run_vendors()
    party = next(p for p in group_members() if "vendor.multiple_matches" in p.planted)
    result = _run_cli(trestle_env, "review", (party.xero_name or "")[:12], "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert any(row["code"] == "vendor.multiple_matches" and row["record"] == party.xero_name for row in rows)
    assert all(row["first_seen"] and row["last_seen"] for row in rows)
