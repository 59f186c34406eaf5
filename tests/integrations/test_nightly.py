"""The nightly flow: every integration in order, one email, planted problems in the review list,
a second night that writes nothing, and a failure that stops only what depends on it."""

from __future__ import annotations

import email
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.integrations.apis import api_requests, api_writes
from trestle.cli import run_flow
from trestle.db import make_engine
from trestle.flows import get_flow
from trestle.integrations import REGISTRY
from trestle.integrations.commitments import APPROVED_STATUSES
from trestle.models.store import LinkStore
from trestle.sandbox.scenario import SEND_STAGE, build_scenario

SCENARIO = build_scenario("small", 1)


def open_issue_codes(env: dict[str, str]) -> Counter:
    store = LinkStore(make_engine(env["TRESTLE_DATABASE_URL"]), "default")
    return Counter(issue.code for issue in store.open_issues())


def test_nightly_runs_everything_once_and_a_second_night_writes_nothing(trestle_env: dict[str, str]) -> None:
    first = run_flow(get_flow("nightly"), notify=True)
    assert list(first["integrations"]) == list(REGISTRY), "every integration, in dependency order"
    assert all(item["outcome"] in ("success", "issues") for item in first["integrations"].values()), first
    assert first["integrations"]["vendors"]["created"] > 0
    assert first["integrations"]["commitments"]["created"] > 0
    assert first["integrations"]["progress_claims"]["created"] > 0

    outbox = Path(trestle_env["TRESTLE_HOME"]) / "outbox"
    messages = sorted(outbox.glob("*.eml"))
    assert len(messages) == 1, "one email for the whole night"
    message = email.message_from_bytes(messages[0].read_bytes())
    html = next(part for part in message.walk() if part.get_content_type() == "text/html").get_payload(decode=True)
    for title in ("Vendors", "Projects", "Cost codes", "Commitments", "Progress claims", "Payments", "Direct invoices"):
        assert title in html.decode()

    codes = open_issue_codes(trestle_env)
    planted_parties = Counter(
        code for p in SCENARIO.parties if p.in_procore_group and not p.xero_archived for code in p.planted
    )
    assert codes["contact.invalid_region"] >= planted_parties["contact.invalid_region"]
    assert codes["vendor.multiple_matches"] >= planted_parties["vendor.multiple_matches"]
    assert codes["vendor.inactive"] >= planted_parties["vendor.inactive_needs_update"]
    gated = [p for p in SCENARIO.projects if p.active and p.stage == SEND_STAGE]
    assert codes["project.no_number"] == sum(1 for p in gated if "project.no_number" in p.planted)
    integrated = {p.key for p in gated if p.number}
    order = (
        "commitment.not_approved",
        "commitment.vendor_not_integrated",
        "commitment.no_lines",
        "commitment.invalid_cost_code",
    )

    def planted(commitment: Any) -> list[str]:
        # the scenario plants "not approved" for any status but Approved; the integration also
        # accepts Complete work orders and received/closed purchase orders as approved
        codes = [code for code in commitment.planted if code != "commitment.not_approved"]
        if commitment.status not in APPROVED_STATUSES[commitment.kind]:
            codes.append("commitment.not_approved")
        return codes

    expected = Counter(
        next(code for code in order if code in planted(c))
        for c in SCENARIO.commitments
        if c.project_key in integrated and any(code in planted(c) for code in order)
    )
    for code, count in expected.items():
        assert codes[code] >= count, f"{code}: {codes[code]} open, {count} planted"

    xero_calls = api_requests(trestle_env["TRESTLE_XERO_API_URL"])
    procore_calls = api_requests(trestle_env["TRESTLE_PROCORE_API_URL"])
    assert xero_calls["POST /connect/token"] == procore_calls["POST /oauth/token"] == 1, "one token per system a night"
    assert xero_calls["GET /api.xro/2.0/Contacts"] == 1, "vendors' contacts read also gives the claims' payment terms"
    projects = len(
        {
            link.procore_id
            for link in LinkStore(make_engine(trestle_env["TRESTLE_DATABASE_URL"]), "default").links("project")
        }
    )
    assert procore_calls["GET /rest/v1.0/cost_codes"] <= projects, "a project's cost codes are read once a night"

    writes = (api_writes(trestle_env["TRESTLE_XERO_API_URL"]), api_writes(trestle_env["TRESTLE_PROCORE_API_URL"]))
    second = run_flow(get_flow("nightly"), notify=False)
    for name, item in second["integrations"].items():
        assert item["created"] == item["updated"] == item["deleted"] == 0, (name, item)
    assert (
        api_writes(trestle_env["TRESTLE_XERO_API_URL"]),
        api_writes(trestle_env["TRESTLE_PROCORE_API_URL"]),
    ) == writes


def test_a_failed_integration_skips_only_its_dependants(
    trestle_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRESTLE_FAIL_AT", "integration:vendors")
    summary = run_flow(get_flow("nightly"), notify=False)
    outcomes: dict[str, Any] = {name: item["outcome"] for name, item in summary["integrations"].items()}
    assert outcomes["vendors"] == "failed"
    assert "injected failure" in summary["integrations"]["vendors"]["error"]
    for name in ("projects", "cost_codes"):
        assert outcomes[name] in ("success", "issues"), "independent integrations still run"
    blocked_by = {
        "commitments": "vendors",
        "progress_claims": "vendors",
        "payments": "progress_claims",
        "direct_invoices": "vendors",
    }
    for name, upstream in blocked_by.items():
        assert outcomes[name] == "skipped"
        assert upstream in " ".join(summary["integrations"][name]["notes"])
    assert summary["exit_code"] == 2
