"""Deleted records (``sync.on_deleted``), end to end on the sandboxes: report, recreate, propagate."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integrations.apis import xero_api
from tests.integrations.test_progress_claims import link_prerequisites, run, store, xero_writes
from trestle.integrations import integration

POLICY = "TRESTLE_SYNC_ON_DELETED_PROGRESS_CLAIMS"


def set_bill_status(env: dict[str, str], bill_id: str, status: str) -> dict[str, Any]:
    """What the bookkeeper does in Xero: approve, void or delete a bill."""
    with xero_api(env) as xero:
        response = xero.post("/Invoices", json={"Invoices": [{"InvoiceID": bill_id, "Status": status}]})
    response.raise_for_status()
    bill: dict[str, Any] = response.json()["Invoices"][0]
    assert bill["Status"] == status
    return bill


def bill(env: dict[str, str], bill_id: str) -> dict[str, Any]:
    with xero_api(env) as xero:
        found: dict[str, Any] = xero.get(f"/Invoices/{bill_id}").json()["Invoices"][0]
    return found


def delete_claim_in_procore(env: dict[str, str], claim_id: str) -> None:
    """What a Procore company admin does in the web app (the API deletes only the latest open claim)."""
    response = httpx.post(
        f"{env['TRESTLE_PROCORE_API_URL']}/_sandbox/simulate/delete",
        json={"resource": "requisitions", "id": int(claim_id)},
    )
    response.raise_for_status()


def bills_sent(env: dict[str, str]) -> dict[str, str]:
    """Claim id → the Xero bill it is linked to, after a first run of the claims."""
    link_prerequisites("vendors", "projects", "cost_codes")
    first = run("progress_claims")
    assert first["created"] >= 3
    links = {
        link.procore_id: link.xero_id
        for link in store(env).links("progress_claim")
        if link.last_payload.get("Type") == "ACCPAY"
    }
    assert len(links) >= 3
    return dict(sorted(links.items()))


def open_issues(env: dict[str, str], code: str) -> set[str]:
    return {issue.record_id for issue in store(env).open_issues(integration="progress_claims") if issue.code == code}


# SQLite only: the link store code is the same on PostgreSQL, and these runs are long enough.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_a_deleted_bill_is_reported_by_default_and_recreate_writes_it_again_exactly_once(
    trestle_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = bills_sent(trestle_env)
    (voided_claim, voided_bill), (deleted_claim, deleted_claims_bill) = list(sent.items())[:2]
    old = set_bill_status(trestle_env, voided_bill, "DELETED")
    delete_claim_in_procore(trestle_env, deleted_claim)
    writes_before = xero_writes(trestle_env)

    for _ in range(2):  # the second run finds the same, and still writes nothing
        report = run("progress_claims")
        assert report["created"] == report["updated"] == report["deleted"] == 0
        assert xero_writes(trestle_env) == writes_before, "a record deleted on purpose is never re-created"
        assert open_issues(trestle_env, "progress_claim.deleted_in_xero") == {voided_claim}
        assert open_issues(trestle_env, "progress_claim.deleted_in_procore") == {deleted_claim}
    assert bill(trestle_env, deleted_claims_bill)["Status"] == "DRAFT", "report leaves the bill as it is"
    issues = {issue.record_id: issue for issue in store(trestle_env).open_issues(integration="progress_claims")}
    assert "DELETED" in issues[voided_claim].message
    fixes = {code.code: code.fix for code in integration("progress_claims").issue_codes()}
    assert POLICY in fixes["progress_claim.deleted_in_xero"], "the fix names the setting"

    monkeypatch.setenv(POLICY, "recreate")
    again = run("progress_claims")
    assert again["created"] == 1 and again["updated"] == again["deleted"] == 0
    links = {link.procore_id: link.xero_id for link in store(trestle_env).links("progress_claim")}
    new_bill = links[voided_claim]
    assert new_bill != voided_bill, "the link now points at the new bill"
    fresh = bill(trestle_env, new_bill)
    assert fresh["Status"] == "DRAFT" and fresh["InvoiceNumber"] == old["InvoiceNumber"]
    assert fresh["Total"] == old["Total"]
    assert bill(trestle_env, voided_bill)["Status"] == "DELETED"
    assert not open_issues(trestle_env, "progress_claim.deleted_in_xero")
    assert open_issues(trestle_env, "progress_claim.deleted_in_procore") == {deleted_claim}, "a gone claim stays"

    writes_after = xero_writes(trestle_env)
    third = run("progress_claims")
    assert third["created"] == third["updated"] == 0
    assert xero_writes(trestle_env) == writes_after, "re-created once, not on every run"


def test_propagate_deletes_the_draft_bill_of_a_deleted_claim_once_and_reports_an_approved_one(
    trestle_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = bills_sent(trestle_env)
    (draft_claim, draft_bill), (approved_claim, approved_bill) = list(sent.items())[:2]
    set_bill_status(trestle_env, approved_bill, "AUTHORISED")
    delete_claim_in_procore(trestle_env, draft_claim)
    delete_claim_in_procore(trestle_env, approved_claim)
    monkeypatch.setenv(POLICY, "propagate")

    report = run("progress_claims")
    assert report["deleted"] == 1 and report["created"] == report["updated"] == 0
    assert bill(trestle_env, draft_bill)["Status"] == "DELETED"
    assert bill(trestle_env, approved_bill)["Status"] == "AUTHORISED", "an approved bill is not Trestle's to void"
    assert open_issues(trestle_env, "progress_claim.bill_not_deletable") == {approved_claim}
    assert not open_issues(trestle_env, "progress_claim.deleted_in_procore")

    writes_after = xero_writes(trestle_env)
    again = run("progress_claims")
    assert again["deleted"] == again["created"] == again["updated"] == 0
    assert xero_writes(trestle_env) == writes_after, "the deletion is sent once"
    assert open_issues(trestle_env, "progress_claim.bill_not_deletable") == {approved_claim}


def test_a_voided_bill_leaves_its_direct_cost_under_report_and_propagate_removes_it_once(
    trestle_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.integrations import test_direct_invoices as direct

    direct.link_prerequisites()
    assert direct.run()["created"] >= 1
    links = direct.store_for(trestle_env).links("direct_cost")
    bills = direct.xero_bills(trestle_env)
    link = next(link for link in links if bills[link.xero_id]["Status"] == "AUTHORISED")
    set_bill_status(trestle_env, link.xero_id, "VOIDED")
    projects = direct.project_ids(direct.store_for(trestle_env))
    assert link.xero_id in direct.direct_costs(trestle_env, projects)
    writes_before = direct.procore_writes(trestle_env)

    monkeypatch.setenv("TRESTLE_SYNC_ON_DELETED_DIRECT_INVOICES", "report")
    reported = direct.run()
    assert reported["deleted"] == reported["created"] == reported["updated"] == 0
    assert direct.procore_writes(trestle_env) == writes_before
    issues = direct.store_for(trestle_env).open_issues(integration="direct_invoices")
    assert {(issue.code, issue.record_id) for issue in issues} >= {("direct_cost.deleted_in_xero", link.xero_id)}
    assert link.xero_id in direct.direct_costs(trestle_env, projects), "report leaves the direct cost"

    monkeypatch.setenv("TRESTLE_SYNC_ON_DELETED_DIRECT_INVOICES", "propagate")
    removed = direct.run()
    assert removed["failed"] == 0
    assert link.xero_id not in direct.direct_costs(trestle_env, projects), "propagate removes it"
    issues = direct.store_for(trestle_env).open_issues(integration="direct_invoices")
    assert "direct_cost.deleted_in_xero" not in {issue.code for issue in issues}
    writes_after = direct.procore_writes(trestle_env)
    assert direct.run()["failed"] == 0
    assert direct.procore_writes(trestle_env) == writes_after, "removed once"
