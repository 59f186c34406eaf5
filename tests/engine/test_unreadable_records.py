"""A record sent with a field of the wrong type, or without one, through the pipeline (issue #16).

The sandboxes garble one record's answer on demand (``POST /_sandbox/garble``, outside strict
mode's answer check, as a real server's bug would be). That record must become the named issue
``<entity>.unreadable`` — naming the field and what came, never the text — while every good record
of the same page is written; once the server answers properly again the record comes back by
itself on the next run (its ``updated_at`` never changed, so only the re-read of records with open
issues can find it: the cursor moved past it) and syncs.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.engine.test_hostile_input import html_parts, procore_vendor_names
from tests.integrations.apis import procore_api, xero_api
from tests.integrations.test_progress_claims import approved_claims, documents, link_prerequisites, run, store
from trestle.cli import run_flow
from trestle.db import make_engine
from trestle.flows.integrations import vendors_flow
from trestle.models.store import LinkStore

GOOD_NAMES = ["Readable Roofing Pty Ltd", "Readable Rigging Pty Ltd", "<b>Readable</b> & Sons"]
GARBLED_NAME = "Garbled Glazing Pty Ltd"


def garble(url: str, route: str, key: str, value: str | int, **change: Any) -> None:
    """Have the sandbox at ``url`` answer the record ``key == value`` under ``route`` changed."""
    body = {"route": route, "key": key, "value": value, "set": change.get("set", {}), "drop": change.get("drop", [])}
    httpx.post(f"{url}/_sandbox/garble", json=body).raise_for_status()


def mend(url: str) -> None:
    """The server's bug is fixed: every record answers as stored again."""
    httpx.delete(f"{url}/_sandbox/garble").raise_for_status()


def plant_group_contacts(env: dict[str, str], names: list[str]) -> dict[str, str]:
    """Contacts created in Xero and put in the contact group Trestle reads; name → ContactID."""
    with xero_api(env) as xero:
        created = xero.put("/Contacts", json={"Contacts": [{"Name": name} for name in names]})
        assert created.status_code == 200, created.text
        ids = {contact["Name"]: contact["ContactID"] for contact in created.json()["Contacts"]}
        groups = xero.get("/ContactGroups").json()["ContactGroups"]
        group = next(group for group in groups if group["Name"] == "Procore")
        members = {"Contacts": [{"ContactID": contact_id} for contact_id in ids.values()]}
        added = xero.put(f"/ContactGroups/{group['ContactGroupID']}/Contacts", json=members)
        assert added.status_code == 200, added.text
    return ids


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_contact_with_a_wrongly_typed_field_is_named_its_page_syncs_and_it_returns_when_mended(
    trestle_env: dict[str, str],
) -> None:
    ids = plant_group_contacts(trestle_env, [*GOOD_NAMES, GARBLED_NAME])
    xero_url = trestle_env["TRESTLE_XERO_API_URL"]
    garbled_id = ids[GARBLED_NAME]
    garble(
        xero_url,
        "/api.xro/2.0/Contacts",
        "ContactID",
        garbled_id,
        set={"Addresses": {"AddressType": "POBOX"}, "IsSupplier": "SECRET-LOOKING-TEXT", "EmailAddress": 42},
    )
    new_values = {  # values Xero may add: read as text, passed over where they mean nothing to Trestle
        "ContactStatus": "GDPRREQUEST",
        "Phones": [{"PhoneType": "SATELLITE", "PhoneNumber": "555 0100"}],
        "Addresses": [{"AddressType": "DELIVERY", "City": "Nowhere", "Country": "Narnia"}],
    }
    garble(xero_url, "/api.xro/2.0/Contacts", "ContactID", ids[GOOD_NAMES[0]], set=new_values)

    summary = run_flow(vendors_flow, notify=True)["integrations"]["vendors"]
    assert summary["outcome"] == "issues" and summary["failed"] == 0, summary
    in_procore = procore_vendor_names(trestle_env)
    assert set(GOOD_NAMES) <= in_procore, "the good contacts of the same page were written (new values too)"
    assert GARBLED_NAME not in in_procore, "nothing was sent for the unreadable contact"

    links = LinkStore(make_engine(trestle_env["TRESTLE_DATABASE_URL"]), "default")
    issues = {issue.record_id: issue for issue in links.open_issues(integration="vendors")}
    issue = issues[garbled_id]
    assert issue.code == "vendor.unreadable" and issue.label == GARBLED_NAME
    assert issue.message.startswith("Xero sent this record with values Trestle cannot read: "), issue.message
    assert "addresses (Addresses): expected a valid list, found a JSON object" in issue.message
    assert "email (EmailAddress): expected a valid string, found the number 42" in issue.message
    assert "is supplier (IsSupplier): expected a valid boolean" in issue.message
    assert "SECRET-LOOKING-TEXT" not in issue.message, "text is never echoed"
    assert sorted(issue.details["fields"]) == ["Addresses", "EmailAddress", "IsSupplier"]
    html = html_parts(Path(trestle_env["TRESTLE_HOME"]) / "outbox")
    assert "vendor.unreadable" in html or "cannot read" in html, "the summary names the unreadable contact"
    assert "<b>Readable</b>" not in html, "names are escaped in the email"

    mend(xero_url)
    again = run_flow(vendors_flow, notify=False)["integrations"]["vendors"]
    assert again["created"] == 1 and again["failed"] == 0, again
    assert GARBLED_NAME in procore_vendor_names(trestle_env), "mended, the contact synced without being edited"
    assert garbled_id not in {issue.record_id for issue in links.open_issues(integration="vendors")}
    assert garbled_id in {link.xero_id for link in links.links("vendor")}


HOSTILE_NUMBER = "<script>alert('x')</script> O'Brien \"Q\" == && 🏗️"
CONTROL_NUMBER = "Tab\tand\x07bell " + "N" * 40
CENT = Decimal("0.01")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_hostile_claims_are_bills_or_named_issues_and_the_good_claims_around_them_are_sent(
    trestle_env: dict[str, str],
) -> None:
    """Subcontractor invoices cannot be created through Procore's API, so seeded approved claims are
    made hostile by the sandbox's answer: hostile text, 1900 and 2100, a status Procore may add,
    a wrongly typed amount, a missing vendor and an amount with four decimals."""
    link_prerequisites("vendors", "projects", "cost_codes")
    claims = sorted(approved_claims(trestle_env), key=lambda claim: claim["id"])
    assert len(claims) >= 8, "the small dataset has enough approved claims"
    hostile, control, unknown, unreadable, missing, decimals = (claim["id"] for claim in claims[:6])
    procore_url, route = trestle_env["TRESTLE_PROCORE_API_URL"], "/rest/v1.1/requisitions"
    garble(procore_url, route, "id", hostile, set={"invoice_number": HOSTILE_NUMBER, "billing_date": "1900-01-02"})
    garble(procore_url, route, "id", control, set={"invoice_number": CONTROL_NUMBER, "billing_date": "2100-12-30"})
    garble(procore_url, route, "id", unknown, set={"status": "awaiting_owner_sign_off", "erp_status": "queued_v2"})
    garble(procore_url, route, "id", unreadable, set={"total_claimed_amount": {"amount": "1.00"}, "billing_date": 5})
    garble(procore_url, route, "id", missing, drop=["vendor_id"])
    item = next(item for item in claims[5]["items"] if item.get("work_completed_this_period"))
    garble(procore_url, route, "id", item["id"], set={"work_completed_this_period": "1234.5678"})

    summary = run("progress_claims", notify=True)
    assert summary["outcome"] == "issues" and summary["failed"] == 0, summary
    links = store(trestle_env)
    linked = {int(link.procore_id): link for link in links.links("progress_claim")}
    issues = {int(issue.record_id): issue for issue in links.open_issues(integration="progress_claims")}
    assert issues[unreadable].code == "progress_claim.unreadable", issues[unreadable].message
    assert "total_claimed_amount" in issues[unreadable].message and "billing_date" in issues[unreadable].message
    assert "found a JSON object" in issues[unreadable].message and "found the number 5" in issues[unreadable].message
    assert issues[missing].code == "progress_claim.vendor_not_linked", "a missing vendor is named, not guessed"
    assert unknown not in linked and unknown not in issues, "a status Procore may add is nobody's business"
    for claim in claims:
        if claim["id"] != unknown:
            assert claim["id"] in linked or claim["id"] in issues, f"claim {claim['id']} neither sent nor named"
    assert {claim["id"] for claim in claims[6:]} - set(issues) <= set(linked), "the good claims were sent"

    bills = documents(trestle_env, "Invoices")
    for claim_id, number, day in ((hostile, HOSTILE_NUMBER, "1900-01-02"), (control, CONTROL_NUMBER, "2100-12-30")):
        assert claim_id in linked, issues.get(claim_id)
        sent = bills[linked[claim_id].xero_id]
        assert sent["InvoiceNumber"] == number, "hostile text is no reason to refuse: it reaches Xero untouched"
        assert linked[claim_id].last_payload["Date"] == day
    assert decimals in linked, issues.get(decimals)
    written = {**bills, **documents(trestle_env, "CreditNotes")}[linked[decimals].xero_id]
    for line in written["LineItems"]:
        assert Decimal(str(line["UnitAmount"])) == Decimal(str(line["UnitAmount"])).quantize(CENT), "to the cent"

    html = html_parts(Path(trestle_env["TRESTLE_HOME"]) / "outbox")
    assert html and "<script>" not in html, "a claim's text must never become markup in the email"
    assert "&lt;script&gt;" in html, "the hostile number is in the email, escaped"
    again = run("progress_claims")
    assert again["created"] == 0 and again["failed"] == 0, "a rerun writes nothing twice"

    mend(procore_url)  # Procore answers properly again; neither claim was edited, so only its issue brings it back
    mended = run("progress_claims")
    assert mended["created"] == 2 and mended["failed"] == 0, mended
    assert {unreadable, missing} <= {int(link.procore_id) for link in links.links("progress_claim")}
    assert not {unreadable, missing} & {int(i.record_id) for i in links.open_issues(integration="progress_claims")}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_hostile_commitments_are_purchase_orders_or_named_issues(trestle_env: dict[str, str]) -> None:
    """Commitments typed into Procore with hostile text and dates in 1900 and 2100, and others the
    server answers with a status Procore may add, no vendor, or a total of the wrong type."""
    from tests.engine.test_hostile_input import vendor_and_code
    from tests.integrations.test_commitments import ProcoreWorld, link_dependencies, names
    from tests.integrations.test_commitments import run as run_commitments
    from tests.integrations.test_commitments import store as commitments_store

    link_dependencies()
    links = commitments_store(trestle_env)
    project_id = int(sorted(names(links.links("project")))[0])
    with procore_api(trestle_env) as procore:
        world = ProcoreWorld(procore, project_id)
        vendor, code = vendor_and_code(procore, links, project_id)

        def approved(number: str, title: str, **header: Any) -> str:
            line = {"description": "Works", "amount": "1000.00", "cost_code_id": code}
            return world.commitment(
                "work_order", "Approved", [line], number=number, title=title, vendor_id=vendor, **header
            )

        hostile = approved('SC "Q" O\'Brien & == &&', "<script>alert('x')</script> 🏗️", contract_date="1900-01-02")
        control = approved("SC-\x07", "Tab\there " + "L" * 500, contract_date="2100-12-30")
        unknown, missing, unreadable, good = (approved(f"SC-U{n}", f"Plain {n}") for n in range(4))
    procore_url, route = trestle_env["TRESTLE_PROCORE_API_URL"], "/rest/v1.0/work_order_contracts"
    garble(procore_url, route, "id", int(unknown), set={"status": "Approved with conditions"})
    garble(procore_url, route, "id", int(missing), drop=["vendor"])
    garble(procore_url, route, "id", int(unreadable), set={"grand_total": {"amount": "1000.00"}})

    report = run_commitments("commitments", notify=True)
    assert report["outcome"] == "issues" and report["failed"] == 0, report
    linked = {link.procore_id: link for link in links.links("commitment")}
    issues = {issue.record_id: issue for issue in links.open_issues(integration="commitments")}
    assert issues[unreadable].code == "commitment.unreadable", issues[unreadable].message
    assert "grand total (grand_total): expected" in issues[unreadable].message
    assert issues[unknown].code == "commitment.not_approved" and "Approved with conditions" in issues[unknown].message
    assert issues[missing].code == "commitment.vendor_not_integrated", issues[missing].message
    assert not {unknown, missing, unreadable} & set(linked), "nothing was sent for them"
    assert {hostile, control, good} <= set(linked), {key: issues[key].message for key in issues}
    with xero_api(trestle_env) as xero:
        orders = {
            commitment_id: xero.get(f"/PurchaseOrders/{linked[commitment_id].xero_id}").json()["PurchaseOrders"][0]
            for commitment_id in (hostile, control)
        }
    assert orders[hostile]["Reference"] == "SC \"Q\" O'Brien & == && - <script>alert('x')</script> 🏗️"
    assert orders[control]["Reference"].startswith("SC-\x07 - Tab\there LLL"), "text reaches Xero untouched"
    assert linked[hostile].last_payload["Date"] == "1900-01-02"
    assert linked[control].last_payload["Date"] == "2100-12-30"

    html = html_parts(Path(trestle_env["TRESTLE_HOME"]) / "outbox")
    assert html and "<script>" not in html and "&lt;script&gt;" in html, "the title is in the email, escaped"
    again = run_commitments("commitments")
    assert again["created"] == 0 and again["failed"] == 0, "a rerun writes nothing twice"

    mend(procore_url)
    # The unreadable total and the missing vendor come back on their own (their issues are re-read
    # every run). A status Trestle does not know waits for the commitment itself to change: here a
    # person saves it in the web app, which moves its updated_at, as approving it would.
    edit = {"resource": "commitments", "id": int(unknown), "changes": {"title": "Plain 0, approved"}}
    httpx.post(f"{procore_url}/_sandbox/simulate/edit", json=edit).raise_for_status()
    mended = run_commitments("commitments")
    assert mended["created"] == 3 and mended["failed"] == 0, mended
    assert {unknown, missing, unreadable} <= {link.procore_id for link in links.links("commitment")}
