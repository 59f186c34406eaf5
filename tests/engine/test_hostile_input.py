"""A catalogue of hostile Xero contacts through the vendors integration: quotes, ``==``, ``&&``,
HTML, control characters, emoji, a name at Xero's 255-character limit, an unknown country.

The contacts are created in the Xero sandbox through its API and put in the contact group, as a
bookkeeper would. One run must not crash: each hostile contact becomes a Procore vendor with its
name intact or a named review issue, the seeded good contacts still sync, and the summary email
shows the names escaped, never as markup.

Issue #16's whole catalogue, and where each case runs against the sandboxes:

- quotes, ``==``, ``&&``, HTML, control characters, emoji: contacts (here), bills and payments
  (``test_hostile_documents.py``), claims and commitments (``test_unreadable_records.py``);
- long text: a contact name at Xero's 255 limit (here), a 500-character commitment title;
- invalid countries (here) and regions (``test_vendors_flow.py``);
- many decimals, zero and negative amounts: bills, payments, a claim item, commitment lines (here);
- dates in 1900 and 2100: bills, payments, claims, commitments;
- values the APIs may add: claim and commitment statuses, a Xero payment status (a named issue),
  contact statuses, phone and address types (synced), document types (below);
- missing fields: a claim's vendor, a commitment's vendor, a bill's number;
- wrongly typed fields: a contact, a claim, a commitment, a bill (``<entity>.unreadable``);
- any JSON: ``tests/clients/test_wire_properties.py``, ``tests/clients/test_unreadable.py``, and the
  mappers in ``tests/integrations/test_map_properties.py``.
"""

from __future__ import annotations

import email
from email.message import Message
from pathlib import Path
from typing import Any

import httpx

from tests.integrations.apis import procore_api, xero_api
from trestle.cli import run_flow
from trestle.db import make_engine
from trestle.flows.integrations import vendors_flow
from trestle.models.store import LinkStore

HOSTILE_NAMES = [
    'O\'Brien "Quoted" & Sons',
    '=HYPERLINK("http://evil.example") == && || ; DROP TABLE vendors',
    "<script>alert('x')</script><b>Bold</b> Builders",
    "Tab\tand\x07bell Pty Ltd",
    "🏗️ Crane Hire 🚧 Ltd",
    "Ünïcödé Façades Société",
    "L" * 255,
]
UNKNOWN_COUNTRY = "Contractor In Narnia Ltd"


def plant_contacts(env: dict[str, str]) -> None:
    """Create the hostile contacts in Xero and add them to the contact group Trestle reads."""
    with xero_api(env) as xero:
        contacts = [{"Name": name, "ContactStatus": "ACTIVE"} for name in HOSTILE_NAMES]
        contacts.append(
            {"Name": UNKNOWN_COUNTRY, "Addresses": [{"AddressType": "STREET", "City": "Cair", "Country": "Narnia"}]}
        )
        created = xero.put("/Contacts", json={"Contacts": contacts})
        assert created.status_code == 200, created.text
        ids = [{"ContactID": contact["ContactID"]} for contact in created.json()["Contacts"]]
        groups = xero.get("/ContactGroups").json()["ContactGroups"]
        group = next(group for group in groups if group["Name"] == "Procore")
        added = xero.put(f"/ContactGroups/{group['ContactGroupID']}/Contacts", json={"Contacts": ids})
        assert added.status_code == 200, added.text


def procore_vendor_names(env: dict[str, str]) -> set[str]:
    with procore_api(env) as procore:
        answer = procore.get(
            "/rest/v1.0/vendors", params={"company_id": env["TRESTLE_PROCORE_COMPANY_ID"], "per_page": 1000}
        )
        answer.raise_for_status()
        return {vendor["name"] for vendor in answer.json()}


def html_parts(outbox: Path) -> str:
    texts = []
    for path in outbox.glob("*.eml"):
        message: Message = email.message_from_bytes(path.read_bytes())
        for part in message.walk():
            if part.get_content_type() == "text/html":
                payload = part.get_payload(decode=True)
                assert isinstance(payload, bytes)
                texts.append(payload.decode("utf-8"))
    return "\n".join(texts)


def test_hostile_contacts_are_synced_or_named_issues_and_the_run_goes_on(
    trestle_env: dict[str, str], fresh_sandboxes: Any
) -> None:
    plant_contacts(trestle_env)
    summary = run_flow(vendors_flow, notify=True)
    vendors = summary["integrations"]["vendors"]
    assert vendors["outcome"] in ("ok", "issues"), vendors
    assert vendors["failed"] == 0 and vendors["created"] > len(HOSTILE_NAMES) // 2, vendors

    in_procore = procore_vendor_names(trestle_env)
    store = LinkStore(make_engine(trestle_env["TRESTLE_DATABASE_URL"]), "default")
    issues = store.open_issues(integration="vendors")
    labelled = {issue.label: issue.code for issue in issues}
    for name in [*HOSTILE_NAMES, UNKNOWN_COUNTRY]:
        synced = any(name == vendor or name[:200] in vendor for vendor in in_procore)
        assert synced or name in labelled, f"{name[:30]!r} was neither synced nor a named issue"
        if name in labelled:
            assert "." in labelled[name], "issue codes are named (integration.problem)"
    assert 'O\'Brien "Quoted" & Sons' in in_procore, "quotes and ampersands survive untouched"
    assert "🏗️ Crane Hire 🚧 Ltd" in in_procore, "emoji survive untouched"

    html = html_parts(Path(trestle_env["TRESTLE_HOME"]) / "outbox")
    assert html, "the summary email was written"
    assert "<script>" not in html, "a contact's name must never become markup in the email"

    again = run_flow(vendors_flow, notify=False)["integrations"]["vendors"]
    assert again["created"] == 0 and again["failed"] == 0, "a rerun writes nothing twice"


def vendor_and_code(procore: httpx.Client, links: LinkStore, project_id: int) -> tuple[int, int]:
    """A Procore vendor linked to a Xero contact, and a cost code of the project whose standard
    code is linked to a Xero option (what a commitment or claim needs to be sent)."""
    contacts = {link.procore_id for link in links.links("vendor")}
    standard_codes = {link.procore_id for link in links.links("cost_code")}
    company = {"company_id": procore.headers["Procore-Company-Id"]}
    vendor = next(
        int(v["id"]) for v in procore.get("/rest/v1.0/vendors", params=company).json() if str(v["id"]) in contacts
    )
    codes = procore.get("/rest/v1.0/cost_codes", params={"project_id": project_id}).json()
    code = next(int(c["id"]) for c in codes if str(c.get("standard_cost_code_id")) in standard_codes)
    return vendor, code


def test_zero_and_negative_commitments_are_named_issues_not_purchase_orders(trestle_env: dict[str, str]) -> None:
    """A commitment adding up to −500.00 or 0.00 is never sent to Xero; a good one beside it is."""
    from tests.integrations.test_commitments import ProcoreWorld, link_dependencies, names, store
    from tests.integrations.test_commitments import run as run_integration

    link_dependencies()
    links = store(trestle_env)
    project_id = int(sorted(names(links.links("project")))[0])
    with procore_api(trestle_env) as procore:
        world = ProcoreWorld(procore, project_id)
        vendor, code = vendor_and_code(procore, links, project_id)

        def line(amount: str) -> dict[str, Any]:
            return {"description": "Works", "amount": amount, "cost_code_id": code}

        negative = world.commitment("work_order", "Approved", [line("-500.00")], number="SC-H1", vendor_id=vendor)
        zero = world.commitment(
            "work_order", "Approved", [line("250.00"), line("-250.00")], number="SC-H2", vendor_id=vendor
        )
        good = world.commitment(
            "work_order", "Approved", [line("0.005"), line("99.995")], number="SC-H3", vendor_id=vendor
        )

    report = run_integration("commitments")
    assert report["outcome"] == "issues" and report["failed"] == 0, report
    linked = {link.procore_id for link in links.links("commitment")}
    issues = {issue.record_id: issue for issue in links.open_issues(integration="commitments")}
    for commitment_id, total, code in (
        (negative, "-500.00", "commitment.negative_total"),
        (zero, "0.00", "commitment.zero_total"),
    ):
        assert issues[commitment_id].code == code
        assert f"add up to {total}" in issues[commitment_id].message
        assert commitment_id not in linked, "no purchase order was sent"
    assert good in linked, "the good commitment beside them was sent"


def test_values_the_apis_may_add_later_parse_and_are_passed_over() -> None:
    """A requisition status, or a Xero invoice status or type, that does not exist yet parses (status
    fields are ``str``) and is nobody's business: not an approved claim, not a live project bill."""
    from trestle.integrations.direct_invoices import GONE_STATUSES, LIVE_STATUSES
    from trestle.integrations.progress_claims import APPROVED_STATUSES
    from trestle.models.procore import Requisition
    from trestle.models.xero import Invoice

    claim = Requisition.model_validate({"id": 7, "status": "awaiting_owner_sign_off", "erp_status": "queued_v2"})
    assert claim.status == "awaiting_owner_sign_off" and claim.status not in APPROVED_STATUSES
    bill = Invoice.model_validate({"InvoiceID": "b-1", "Type": "ACCPAYRECURRING", "Status": "ON_HOLD"})
    assert (bill.type, bill.status) == ("ACCPAYRECURRING", "ON_HOLD")
    assert bill.status not in (*LIVE_STATUSES, *GONE_STATUSES)
