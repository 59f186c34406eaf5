"""Payments (Xero payments on progress-claim bills → Procore contract payments), end to end on the sandboxes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.integrations.apis import procore_api, xero_api
from trestle.cli import run_flow
from trestle.db import make_engine
from trestle.flows import get_flow
from trestle.integrations.payments import cost_share
from trestle.models.msdate import parse_ms_date
from trestle.models.store import LinkStore

CENT = Decimal("0.01")


def run(name: str, **params: Any) -> dict[str, Any]:
    params.setdefault("notify", False)
    return run_flow(get_flow(name), **params)["integrations"][name]


def store(env: dict[str, str]) -> LinkStore:
    return LinkStore(make_engine(env["TRESTLE_DATABASE_URL"]), "default")


def pay_bills(env: dict[str, str], **body: Any) -> list[dict[str, Any]]:
    """The accountant pays some of the bills Trestle wrote (the Xero sandbox's control route)."""
    response = httpx.post(f"{env['TRESTLE_XERO_API_URL']}/_sandbox/simulate/payments", json=body)
    response.raise_for_status()
    return response.json()["paid"]


def procore_payments(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Every contract payment on the commitments of the sent claims, by origin_id."""
    contracts = set()
    with procore_api(env) as api:
        for link in store(env).links("project"):
            claims = api.get("/rest/v1.1/requisitions", params={"project_id": link.procore_id, "per_page": 1000})
            contracts |= {(claim["project_id"], claim["commitment_id"]) for claim in claims.json()}
        found = {}
        for project_id, contract_id in contracts:
            rows = api.get(
                "/rest/v1.0/contract_payments", params={"project_id": project_id, "contract_id": contract_id}
            ).json()
            found |= {row["origin_id"]: row for row in rows if row.get("origin_id")}
    return found


def set_procore_faults(env: dict[str, str], **faults: float) -> None:
    httpx.post(f"{env['TRESTLE_PROCORE_API_URL']}/_sandbox/faults", json=faults).raise_for_status()


def bills_by_id(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    with xero_api(env) as xero:
        rows = xero.get("/Invoices", params={"page": 1, "pageSize": 1000, "where": 'Type=="ACCPAY"'}).json()
    return {row["InvoiceID"]: row for row in rows["Invoices"]}


def test_each_xero_payment_becomes_one_procore_payment_ex_tax_and_deletions_are_reported(
    trestle_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRESTLE_SYNC_BILL_STATUS", "AUTHORISED")
    for name in ("vendors", "projects", "cost_codes", "progress_claims"):
        run(name)
    first_payments = pay_bills(trestle_env, share=0.6, partial_share=0.4, seed=3)
    assert any(p["Partial"] for p in first_payments) and any(not p["Partial"] for p in first_payments)

    dry = run("payments", dry_run=True)
    assert dry["created"] == len(first_payments)
    assert procore_payments(trestle_env) == {}, "a dry run wrote to Procore"

    # Every answer from Procore is lost: the payments are made there but Trestle cannot know it.
    set_procore_faults(trestle_env, lost_rate=1.0)
    lost = run("payments")
    assert lost["created"] == 0 and lost["failed"] == len(first_payments)
    set_procore_faults(trestle_env, lost_rate=0.0)
    first = run("payments")
    assert any("finished" in note for note in first["notes"]), "the next run looked the lost payments up"
    # the lost payments are found by origin_id and reported as created by the run that finished them
    assert first["created"] == len(first_payments) and first["failed"] == 0 and first["skipped"] == 0
    assert len(store(trestle_env).links("payment")) == len(first_payments)
    claim_of_bill = {link.xero_id: int(link.procore_id) for link in store(trestle_env).links("progress_claim")}
    bills = bills_by_id(trestle_env)
    sent = procore_payments(trestle_env)
    for paid in first_payments:
        bill = bills[paid["InvoiceID"]]
        payment = sent[paid["PaymentID"]]
        expected = (
            Decimal(str(paid["Amount"])) * Decimal(str(bill["SubTotal"])) / Decimal(str(bill["Total"]))
        ).quantize(CENT)
        assert Decimal(payment["amount"]).quantize(CENT) == expected, "only the cost, not the tax, goes to Procore"
        assert payment["invoice_number"] == bill["InvoiceNumber"]
        assert payment["requisition_id"] == claim_of_bill[paid["InvoiceID"]]
        assert payment["payment_number"] == 1
        assert payment["date"] == parse_ms_date(bill["Payments"][0]["Date"]).isoformat()
    links = {link.xero_id: link.procore_id for link in store(trestle_env).links("payment")}
    assert {links[p["PaymentID"]] for p in first_payments} == {str(sent[p["PaymentID"]]["id"]) for p in first_payments}

    again = run("payments")
    assert again["created"] == again["updated"] == 0, "a second run sends nothing twice"

    # The rest of the partly paid bills is paid, with tax included this time.
    monkeypatch.setenv("TRESTLE_SYNC_PAYMENTS_INCLUDE_TAX", "true")
    partly_paid = {p["InvoiceID"] for p in first_payments if p["Partial"]}
    second_payments = [p for p in pay_bills(trestle_env, share=1.0, partial_share=0.0, seed=4)]
    second = run("payments")
    assert second["created"] == len(second_payments)
    sent = procore_payments(trestle_env)
    for paid in second_payments:
        payment = sent[paid["PaymentID"]]
        assert Decimal(payment["amount"]).quantize(CENT) == Decimal(str(paid["Amount"])).quantize(CENT)
        assert payment["payment_number"] == (2 if paid["InvoiceID"] in partly_paid else 1)

    # A payment deleted in Xero is reported, then removed from Procore once that is allowed.
    deleted = first_payments[0]["PaymentID"]
    with xero_api(trestle_env) as xero:
        xero.post(f"/Payments/{deleted}", json={"Status": "DELETED"}).raise_for_status()
    reported = run("payments")
    assert reported["created"] == reported["updated"] == 0
    issues = store(trestle_env).open_issues(integration="payments")
    assert [(issue.code, issue.record_id) for issue in issues] == [("payment.deleted_in_xero", deleted)]
    assert deleted in procore_payments(trestle_env)

    monkeypatch.setenv("TRESTLE_SYNC_PAYMENTS_DELETE_REMOVED", "true")
    removed = run("payments")
    assert removed["updated"] == 1
    assert deleted not in procore_payments(trestle_env)
    assert store(trestle_env).open_issues(integration="payments") == []


@pytest.mark.parametrize(
    ("amount", "sub_total", "total", "expected"),
    [
        (Decimal("110.00"), Decimal("100.00"), Decimal("110.00"), Decimal("100.00")),
        (Decimal("55.01"), Decimal("100.00"), Decimal("110.00"), Decimal("50.01")),  # 50.009… rounds half-up
        (Decimal("33.33"), Decimal("100.00"), Decimal("100.00"), Decimal("33.33")),  # no tax on the bill
        (Decimal("10.00"), Decimal("0.00"), Decimal("0.00"), Decimal("10.00")),
    ],
)
def test_cost_share_prorates_the_payment_to_the_cent(
    amount: Decimal, sub_total: Decimal, total: Decimal, expected: Decimal
) -> None:
    assert cost_share(amount, sub_total, total) == expected
