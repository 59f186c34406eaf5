"""Progress claims (approved Procore subcontractor invoices → Xero bills), end to end on the sandboxes."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.integrations.apis import procore_api, xero_api
from trestle.cli import run_flow
from trestle.db import make_engine
from trestle.flows import get_flow
from trestle.integrations.progress_claims import due_date
from trestle.models.msdate import parse_ms_date
from trestle.models.store import LinkStore
from trestle.models.xero import PaymentTerm

APPROVED = {"approved", "approved_as_noted"}
CENT = Decimal("0.01")


def run(name: str, **params: Any) -> dict[str, Any]:
    params.setdefault("notify", False)
    return run_flow(get_flow(name), **params)["integrations"][name]


def store(env: dict[str, str]) -> LinkStore:
    return LinkStore(make_engine(env["TRESTLE_DATABASE_URL"]), "default")


def xero_writes(env: dict[str, str]) -> int:
    stats = httpx.get(f"{env['TRESTLE_XERO_API_URL']}/_sandbox/stats").json()
    return sum(
        count
        for key, count in stats["requests"].items()
        if key.split(" ")[0] in {"POST", "PUT", "DELETE"} and "/_sandbox" not in key and "/connect" not in key
    )


def approved_claims(env: dict[str, str]) -> list[dict[str, Any]]:
    """Approved claims of the linked projects, with their items, read from Procore."""
    claims = []
    with procore_api(env) as api:
        for link in store(env).links("project"):
            params = {"project_id": link.procore_id, "per_page": 1000, "view": "items"}
            response = api.get("/rest/v1.1/requisitions", params=params)
            claims += [claim for claim in response.json() if claim["status"] in APPROVED]
    return claims


def cost_code_options(env: dict[str, str], project_ids: set[int]) -> dict[int, str]:
    """Project cost code id → the "Cost Code" option name of its standard code."""
    by_standard = {int(link.procore_id): link.last_payload["Name"] for link in store(env).links("cost_code")}
    options = {}
    with procore_api(env) as api:
        for project_id in project_ids:
            for code in api.get("/rest/v1.0/cost_codes", params={"project_id": project_id, "per_page": 1000}).json():
                if code.get("standard_cost_code_id") in by_standard:
                    options[code["id"]] = by_standard[code["standard_cost_code_id"]]
    return options


def documents(env: dict[str, str], collection: str) -> dict[str, dict[str, Any]]:
    key = "InvoiceID" if collection == "Invoices" else "CreditNoteID"
    with xero_api(env) as xero:
        rows = xero.get(f"/{collection}", params={"page": 1, "pageSize": 1000}).json()[collection]
    return {row[key]: row for row in rows}


def line_amounts(document: dict[str, Any]) -> dict[str, Decimal]:
    """Cost Code option (or description for untracked lines) → amount, to the cent."""
    amounts: dict[str, Decimal] = defaultdict(Decimal)
    for line in document["LineItems"]:
        option = next((t["Option"] for t in line.get("Tracking", []) if t["Name"] == "Cost Code"), line["Description"])
        amounts[option] += Decimal(str(line["UnitAmount"])).quantize(CENT)
    return dict(amounts)


def link_prerequisites(*names: str) -> None:
    for name in names:
        run(name)


def test_approved_claims_become_bills_per_cost_code_and_a_second_run_writes_nothing(
    trestle_env: dict[str, str],
) -> None:
    link_prerequisites("vendors", "projects", "cost_codes")
    writes_before = xero_writes(trestle_env)
    dry = run("progress_claims", dry_run=True)
    assert dry["created"] > 0
    assert xero_writes(trestle_env) == writes_before, "a dry run wrote to Xero"
    assert store(trestle_env).links("progress_claim") == []

    first = run("progress_claims")
    assert first["created"] == dry["created"], "the dry run predicted the real run"
    claims = approved_claims(trestle_env)
    assert first["created"] == len(claims) and first["skipped"] == 0
    links = {link.procore_id: link.xero_id for link in store(trestle_env).links("progress_claim")}
    bills = documents(trestle_env, "Invoices")
    options = cost_code_options(trestle_env, {claim["project_id"] for claim in claims})
    projects = {link.procore_id: link.last_payload["Name"] for link in store(trestle_env).links("project")}
    contacts = {link.procore_id: link.xero_id for link in store(trestle_env).links("vendor")}
    with xero_api(trestle_env) as xero:
        terms = {
            c["ContactID"]: (c.get("PaymentTerms") or {}).get("Bills")
            for c in xero.get("/Contacts", params={"page": 1, "pageSize": 1000}).json()["Contacts"]
        }
    retained = Decimal(0)
    for claim in claims:
        bill = bills[links[str(claim["id"])]]
        expected: dict[str, Decimal] = defaultdict(Decimal)
        for item in claim["items"]:
            expected[options[item["cost_code_id"]]] += Decimal(item["net_amount"])  # net of retainage
            retained += Decimal(item["gross_amount"]) - Decimal(item["net_amount"])
        assert line_amounts(bill) == dict(expected), f"claim {claim['invoice_number']}: one line per cost code"
        assert bill["Type"] == "ACCPAY" and bill["Status"] == "DRAFT"
        assert bill["InvoiceNumber"] == claim["invoice_number"]
        assert bill["Contact"]["ContactID"] == contacts[str(claim["vendor_id"])]
        assert {t["Option"] for line in bill["LineItems"] for t in line["Tracking"] if t["Name"] == "Project"} == {
            projects[str(claim["project_id"])]
        }
        billed_on = date.fromisoformat(claim["billing_date"])
        assert parse_ms_date(bill["Date"]) == billed_on
        term = terms[bill["Contact"]["ContactID"]]
        expected_due = billed_on + timedelta(days=term["Day"] if term else 30)
        assert parse_ms_date(bill["DueDate"]) == expected_due, "due date from the contact's bill terms, else 30 days"
        assert bill["LineAmountTypes"] == "Exclusive"
        assert all(line["TaxType"] == "INPUT" for line in bill["LineItems"])
    assert retained > 0, "the small dataset has claims with retainage"

    writes_after_first = xero_writes(trestle_env)
    second = run("progress_claims")
    assert second["created"] == second["updated"] == second["failed"] == 0
    full = run("progress_claims", full_refresh=True)
    assert full["unchanged"] == len(claims) and full["created"] == full["updated"] == 0
    assert xero_writes(trestle_env) == writes_after_first, "unchanged claims are not written again"


def test_unlinked_vendor_and_cost_codes_are_issues_until_fixed_then_retainage_goes_to_its_account(
    trestle_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRESTLE_SYNC_RETAINAGE_ACCOUNT_CODE", "880")
    monkeypatch.setenv("TRESTLE_SYNC_TAX_MODE", "none")
    give_unnumbered_project_a_number(trestle_env)  # its claims include a negative one
    link_prerequisites("projects")
    no_vendors = run("progress_claims")
    claims = approved_claims(trestle_env)
    assert no_vendors["created"] == 0 and no_vendors["skipped"] == len(claims)
    issues = store(trestle_env).open_issues(integration="progress_claims")
    assert {issue.code for issue in issues} == {"progress_claim.vendor_not_linked"}
    assert len(issues) == len(claims)

    link_prerequisites("vendors")
    no_codes = run("progress_claims")
    assert no_codes["created"] == 0
    issues = store(trestle_env).open_issues(integration="progress_claims")
    assert {issue.code for issue in issues} == {"progress_claim.cost_code_not_linked"}
    assert all(issue.details["cost_codes"] for issue in issues)

    link_prerequisites("cost_codes")
    fixed = run("progress_claims")
    assert fixed["created"] == len(claims), "open issues are re-checked and the fixed claims sent"
    assert store(trestle_env).open_issues(integration="progress_claims") == []
    links = {link.procore_id: link.xero_id for link in store(trestle_env).links("progress_claim")}
    bills = {**documents(trestle_env, "Invoices"), **documents(trestle_env, "CreditNotes")}
    options = cost_code_options(trestle_env, {claim["project_id"] for claim in claims})
    with_retainage = credit_notes = 0
    for claim in claims:
        bill = bills[links[str(claim["id"])]]
        if Decimal(claim["summary"]["current_payment_due"]) < 0:
            credit_notes += 1
            assert bill["Type"] == "ACCPAYCREDIT" and bill["CreditNoteNumber"] == claim["invoice_number"]
            assert line_amounts(bill) == {
                options[item["cost_code_id"]]: -Decimal(item["gross_amount"]) for item in claim["items"]
            }, "a negative claim is a credit note with positive amounts"
            continue
        assert bill["LineAmountTypes"] == "NoTax" and Decimal(str(bill["TotalTax"])) == 0
        expected: dict[str, Decimal] = defaultdict(Decimal)
        held = Decimal(0)
        for item in claim["items"]:
            expected[options[item["cost_code_id"]]] += Decimal(item["gross_amount"])  # gross lines
            held += Decimal(item["gross_amount"]) - Decimal(item["net_amount"])
        if held:
            with_retainage += 1
            expected["Retainage held"] = -held.quantize(CENT)
            retainage_line = next(line for line in bill["LineItems"] if line["Description"] == "Retainage held")
            assert retainage_line["AccountCode"] == "880"
        assert line_amounts(bill) == dict(expected)
        assert Decimal(str(bill["Total"])) == Decimal(claim["summary"]["current_payment_due"]).quantize(CENT)
    assert with_retainage > 0
    assert credit_notes == 1, "the small dataset has one negative approved claim"


def give_unnumbered_project_a_number(env: dict[str, str]) -> None:
    """Fix the planted project without a number in Procore, as its project manager would."""
    with procore_api(env) as api:
        projects = api.get(
            "/rest/v1.1/projects",
            params={"company_id": env["TRESTLE_PROCORE_COMPANY_ID"], "per_page": 1000, "view": "normal"},
        ).json()
        project = next(p for p in projects if not p.get("project_number") and p.get("stage") == "Send to Xero")
        api.patch(
            f"/rest/v1.0/projects/{project['id']}",
            json={"company_id": int(env["TRESTLE_PROCORE_COMPANY_ID"]), "project": {"project_number": "2026-199"}},
        ).raise_for_status()


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        (PaymentTerm(day=14, type="DAYSAFTERBILLDATE"), date(2025, 2, 3)),
        (PaymentTerm(day=10, type="DAYSAFTERBILLMONTH"), date(2025, 2, 10)),
        (PaymentTerm(day=31, type="OFCURRENTMONTH"), date(2025, 1, 31)),
        (PaymentTerm(day=5, type="OFCURRENTMONTH"), date(2025, 1, 20)),  # never before the bill date
        (PaymentTerm(day=30, type="OFFOLLOWINGMONTH"), date(2025, 2, 28)),  # clamped to the month's end
        (None, date(2025, 2, 19)),
        (PaymentTerm(day=None, type="DAYSAFTERBILLDATE"), date(2025, 2, 19)),
    ],
)
def test_due_date_follows_the_contacts_bill_terms(term: PaymentTerm | None, expected: date) -> None:
    assert due_date(date(2025, 1, 20), term, 30) == expected
