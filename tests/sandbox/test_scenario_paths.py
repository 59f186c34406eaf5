"""The ``small`` dataset reaches every integration path, in both sandboxes' seeded records."""

from __future__ import annotations

import pytest

from trestle.integrations.vendors import normalize_tax_number
from trestle.sandbox.procore.seed import build_state as build_procore
from trestle.sandbox.scenario import SEND_STAGE, Scenario, build_scenario
from trestle.sandbox.xero.seed import build_state as build_xero


@pytest.fixture(scope="module")
def small() -> Scenario:
    return build_scenario("small", 1)


def test_an_inactive_project_waits_at_the_send_stage(small: Scenario) -> None:
    assert any(not p.active and p.stage == SEND_STAGE and p.number for p in small.projects)


def test_a_negative_approved_claim_on_an_integrated_vendor(small: Scenario) -> None:
    def integrated(claim_key: str) -> bool:
        claim = next(c for c in small.claims if c.key == claim_key)
        commitment = small.commitment(claim.commitment_key)
        vendor = small.party(commitment.vendor_key)
        return vendor.in_procore_group and commitment.status == "Approved" and claim.status == "approved"

    negative = [c for c in small.claims if sum(line.work_completed_this_period for line in c.lines) < 0]
    assert any(integrated(c.key) for c in negative)


def test_a_region_given_by_name_reaches_xero(small: Scenario) -> None:
    xero = build_xero(small)
    regions = {a.get("Region") for c in xero.contacts.values() for a in c.get("Addresses", [])}
    assert "New South Wales" in regions


def test_a_contact_matches_a_vendor_only_by_tax_number(small: Scenario) -> None:
    xero, procore = build_xero(small), build_procore(small)
    contacts = {
        normalize_tax_number(c.get("TaxNumber")): c["Name"] for c in xero.contacts.values() if c.get("TaxNumber")
    }
    vendors = [v for v in procore.vendors.values() if normalize_tax_number(v.get("business_id")) in contacts]
    assert any(v["name"].casefold() != contacts[normalize_tax_number(v["business_id"])].casefold() for v in vendors)


def test_a_bill_coded_to_two_projects_and_a_bill_paid_in_parts(small: Scenario) -> None:
    xero = build_xero(small)
    project = next(c for c in xero.tracking_categories.values() if c["Name"] == "Project")
    project_options = {o["TrackingOptionID"] for o in project["Options"]}

    def projects_of(bill: dict) -> set[str]:
        return {
            t["TrackingOptionID"]
            for line in bill["LineItems"]
            for t in line["Tracking"]
            if t["TrackingOptionID"] in project_options
        }

    assert any(len(projects_of(bill)) == 2 for bill in xero.invoices.values())
    payments_per_bill: dict[str, int] = {}
    for payment in xero.payments.values():
        payments_per_bill[payment["_document_id"]] = payments_per_bill.get(payment["_document_id"], 0) + 1
    assert max(payments_per_bill.values()) >= 3
