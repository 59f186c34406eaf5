"""Xero's business rules as the simulator enforces them, exercised over HTTP."""

from __future__ import annotations

import httpx

from tests.sandbox.xero.conftest import XeroSandbox, first_bill_body
from trestle.sandbox.xero.payments import EXCEEDS_MESSAGE


def _create_bill(api: httpx.Client, xero: XeroSandbox, **overrides: object) -> dict:
    response = api.put("/Invoices", json={"Invoices": [first_bill_body(xero, **overrides)]})
    assert response.status_code == 200, response.text
    return response.json()["Invoices"][0]


def _pay(api: httpx.Client, invoice_id: str, amount: float) -> httpx.Response:
    return api.put(
        "/Payments",
        json={
            "Payments": [
                {
                    "Invoice": {"InvoiceID": invoice_id},
                    "Account": {"Code": "090"},
                    "Date": "2026-11-01",
                    "Amount": amount,
                }
            ]
        },
    )


def test_bill_totals_are_computed_with_gst(api: httpx.Client, xero: XeroSandbox) -> None:
    bill = _create_bill(api, xero)
    assert (bill["SubTotal"], bill["TotalTax"], bill["Total"], bill["AmountDue"]) == (1000, 100, 1100, 1100)
    assert bill["LineItems"][0]["LineAmount"] == 1000
    assert bill["LineItems"][0]["Tracking"][0]["Name"] == "Project"


def test_payments_partial_full_and_delete(api: httpx.Client, xero: XeroSandbox) -> None:
    bill = _create_bill(api, xero)
    too_much = _pay(api, bill["InvoiceID"], 1100.01)
    assert too_much.status_code == 400
    assert too_much.json()["Type"] == "ValidationException"
    assert too_much.json()["Elements"][0]["ValidationErrors"][0]["Message"] == EXCEEDS_MESSAGE

    assert _pay(api, bill["InvoiceID"], 400).status_code == 200
    after_part = api.get(f"/Invoices/{bill['InvoiceID']}").json()["Invoices"][0]
    assert (after_part["Status"], after_part["AmountPaid"], after_part["AmountDue"]) == ("AUTHORISED", 400, 700)
    assert "FullyPaidOnDate" not in after_part

    rest = _pay(api, bill["InvoiceID"], 700).json()["Payments"][0]
    paid = api.get(f"/Invoices/{bill['InvoiceID']}").json()["Invoices"][0]
    assert paid["Status"] == "PAID" and paid["AmountDue"] == 0
    assert paid["FullyPaidOnDate"].startswith("/Date(")
    assert len(paid["Payments"]) == 2

    deleted = api.post(f"/Payments/{rest['PaymentID']}", json={"Status": "DELETED"})
    assert deleted.status_code == 200 and deleted.json()["Payments"][0]["Status"] == "DELETED"
    restored = api.get(f"/Invoices/{bill['InvoiceID']}").json()["Invoices"][0]
    assert (restored["Status"], restored["AmountDue"]) == ("AUTHORISED", 700)
    assert "FullyPaidOnDate" not in restored


def test_payment_needs_authorised_bill_and_bank_account(api: httpx.Client, xero: XeroSandbox) -> None:
    draft = _create_bill(api, xero, Status="DRAFT")
    assert _pay(api, draft["InvoiceID"], 10).status_code == 400
    bill = _create_bill(api, xero)
    wrong_account = api.put(
        "/Payments",
        json={"Payments": [{"Invoice": {"InvoiceID": bill["InvoiceID"]}, "Account": {"Code": "320"}, "Amount": 10}]},
    )
    assert wrong_account.status_code == 400


def test_unique_active_contact_names(api: httpx.Client, xero: XeroSandbox) -> None:
    active = next(c for c in xero.state.contacts.values() if c["ContactStatus"] == "ACTIVE")
    clash = api.put("/Contacts", json={"Contacts": [{"Name": active["Name"].upper()}]})
    assert clash.status_code == 400
    assert "already assigned to another contact" in clash.json()["Elements"][0]["ValidationErrors"][0]["Message"]
    archived = next(c for c in xero.state.contacts.values() if c["ContactStatus"] == "ARCHIVED")
    reuse = api.put("/Contacts", json={"Contacts": [{"Name": archived["Name"]}]})
    assert reuse.status_code == 200


def test_archived_contacts_hidden_unless_asked(api: httpx.Client, xero: XeroSandbox) -> None:
    default = api.get("/Contacts", params={"page": 1}).json()["Contacts"]
    everything = api.get("/Contacts", params={"page": 1, "includeArchived": "true"}).json()["Contacts"]
    assert all(c["ContactStatus"] == "ACTIVE" for c in default)
    assert len(everything) == len(xero.state.contacts) > len(default)
    padded = default[0]
    assert [a["AddressType"] for a in padded["Addresses"]][:2] == ["POBOX", "STREET"]
    assert [p["PhoneType"] for p in padded["Phones"]][:4] == ["DEFAULT", "DDI", "FAX", "MOBILE"]


def test_tracking_option_limit(api: httpx.Client, xero: XeroSandbox) -> None:
    category = next(c for c in xero.state.tracking_categories.values() if c["Name"] == "Cost Code")
    existing = len(category["Options"])
    fill = [{"Name": f"Option {n}"} for n in range(100 - existing)]
    url = f"/TrackingCategories/{category['TrackingCategoryID']}/Options"
    assert all(api.put(url, json=option).status_code == 200 for option in fill)
    over = api.put(url, json={"Name": "One too many"})
    assert over.status_code == 400
    assert "100 active options" in over.json()["Elements"][0]["ValidationErrors"][0]["Message"]
    duplicate = api.put(url, json={"Name": "option 1"})
    assert duplicate.status_code == 400


def test_third_active_tracking_category_is_refused(api: httpx.Client) -> None:
    response = api.put("/TrackingCategories", json={"Name": "Region"})
    assert response.status_code == 400
    assert "2 active tracking categories" in response.text


def test_summarize_errors_both_modes(api: httpx.Client, xero: XeroSandbox) -> None:
    good, bad = {"Name": "Brand New Pty Ltd"}, {"Name": ""}
    summarised = api.put("/Contacts", json={"Contacts": [good, bad]})
    assert summarised.status_code == 400
    body = summarised.json()
    assert (body["ErrorNumber"], body["Type"], body["Message"]) == (
        10,
        "ValidationException",
        "A validation exception occurred",
    )
    assert len(body["Elements"]) == 1 and body["Elements"][0]["StatusAttributeString"] == "ERROR"
    assert any(c["Name"] == "Brand New Pty Ltd" for c in xero.state.contacts.values())  # valid one saved

    detailed = api.put(
        "/Contacts", params={"summarizeErrors": "false"}, json={"Contacts": [{"Name": "Another New Ltd"}, bad]}
    )
    assert detailed.status_code == 200
    statuses = [c["StatusAttributeString"] for c in detailed.json()["Contacts"]]
    assert statuses == ["OK", "ERROR"]
    assert detailed.json()["Contacts"][1]["ValidationErrors"][0]["Message"]


def test_unknown_account_code_and_tracking_option(api: httpx.Client, xero: XeroSandbox) -> None:
    bill = first_bill_body(xero)
    bill["LineItems"][0]["AccountCode"] = "999"
    bill["LineItems"][0]["Tracking"] = [{"Name": "Project", "Option": "No such project"}]
    response = api.put("/Invoices", json={"Invoices": [bill]})
    messages = [e["Message"] for e in response.json()["Elements"][0]["ValidationErrors"]]
    assert "Account code '999' is not a valid code for this document." in messages
    assert any("No such project" in message for message in messages)


def test_idempotency_key_replays_and_conflicts(api: httpx.Client, xero: XeroSandbox) -> None:
    body = {"Contacts": [{"Name": "Idempotent Pty Ltd"}]}
    first = api.put("/Contacts", json=body, headers={"Idempotency-Key": "key-1"})
    count = len(xero.state.contacts)
    again = api.put("/Contacts", json=body, headers={"Idempotency-Key": "key-1"})
    assert again.status_code == first.status_code == 200
    assert again.content == first.content
    assert len(xero.state.contacts) == count
    conflict = api.put("/Contacts", json={"Contacts": [{"Name": "Other"}]}, headers={"Idempotency-Key": "key-1"})
    assert conflict.status_code == 400
    assert conflict.json()["Type"] == "IdempotencyKeyConflictException"


def test_lost_response_commits_then_replays(api: httpx.Client, xero: XeroSandbox) -> None:
    xero.control("faults", {"lost_rate": 1.0})
    body = {"Contacts": [{"Name": "Lost Answer Ltd"}]}
    lost = api.put("/Contacts", json=body, headers={"Idempotency-Key": "lost-1"})
    assert lost.status_code == 504 and lost.content == b""
    assert any(c["Name"] == "Lost Answer Ltd" for c in xero.state.contacts.values())
    xero.control("faults", {})
    retry = api.put("/Contacts", json=body, headers={"Idempotency-Key": "lost-1"})
    assert retry.status_code == 200
    assert sum(c["Name"] == "Lost Answer Ltd" for c in xero.state.contacts.values()) == 1


def test_if_modified_since(api: httpx.Client, xero: XeroSandbox) -> None:
    created = api.put("/Contacts", json={"Contacts": [{"Name": "Fresh Contact"}]}).json()["Contacts"][0]
    stamp = xero.state.contacts[created["ContactID"]]["UpdatedDateUTC"]
    before = (stamp.replace(microsecond=0)).replace(second=stamp.second - 1 if stamp.second else 0)
    since = api.get(
        "/Contacts", params={"page": 1}, headers={"If-Modified-Since": before.strftime("%Y-%m-%dT%H:%M:%S")}
    ).json()["Contacts"]
    assert [c["ContactID"] for c in since] == [created["ContactID"]]
    rfc = api.get(
        "/Contacts", params={"page": 1}, headers={"If-Modified-Since": stamp.strftime("%a, %d %b %Y %H:%M:%S GMT")}
    ).json()["Contacts"]
    assert rfc == []  # same second is not "later"


def test_where_filters(api: httpx.Client, xero: XeroSandbox) -> None:
    contact = next(c for c in xero.state.contacts.values() if c["ContactStatus"] == "ACTIVE")
    by_guid = api.get("/Contacts", params={"where": f'ContactID==Guid("{contact["ContactID"].upper()}")'})
    assert [c["ContactID"] for c in by_guid.json()["Contacts"]] == [contact["ContactID"]]
    bills = api.get(
        "/Invoices",
        params={
            "page": 1,
            "where": 'Type=="ACCPAY" AND (Status=="AUTHORISED" || Status=="PAID") && Date>=DateTime(2020,01,01)',
        },
    )
    assert bills.json()["Invoices"]
    assert all(i["Status"] in {"AUTHORISED", "PAID"} for i in bills.json()["Invoices"])
    starts = api.get("/Contacts", params={"where": f'Name.StartsWith("{contact["Name"][:5]}")'}).json()["Contacts"]
    assert contact["ContactID"] in {c["ContactID"] for c in starts}
    broken = api.get("/Contacts", params={"where": 'Name=="unterminated'})
    assert broken.status_code == 400 and broken.json()["Type"] != "ValidationException"


def test_pagination_to_the_end(api: httpx.Client, xero: XeroSandbox) -> None:
    api.put("/Contacts", json={"Contacts": [{"Name": f"Bulk {n}"} for n in range(60)]})
    active = sum(c["ContactStatus"] == "ACTIVE" for c in xero.state.contacts.values())
    seen, page = [], 1
    while True:
        body = api.get("/Contacts", params={"page": page, "pageSize": 40}).json()
        seen += body["Contacts"]
        if len(body["Contacts"]) < 40:
            break
        page += 1
    assert len(seen) == len({c["ContactID"] for c in seen}) == active
    assert body["pagination"] == {"page": page, "pageSize": 40, "pageCount": page, "itemCount": active}
    capped = api.get("/Contacts", params={"page": 1, "pageSize": 5000}).json()["pagination"]
    assert capped["pageSize"] == 1000


def test_unknown_id_is_plain_404(api: httpx.Client) -> None:
    response = api.get("/Invoices/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert response.text == "The resource you're looking for cannot be found"


def test_simulated_payments_pay_api_bills_only(api: httpx.Client, xero: XeroSandbox) -> None:
    for number in range(4):
        _create_bill(api, xero, InvoiceNumber=f"SIM-{number}")
    result = xero.control("simulate/payments", {"share": 1.0, "partial_share": 0.5, "seed": 3})
    assert result["count"] == 4
    statuses = sorted(item["Status"] for item in result["paid"])
    assert statuses == ["AUTHORISED", "AUTHORISED", "PAID", "PAID"]


def test_web_pages(xero: XeroSandbox) -> None:
    contact = next(iter(xero.state.contacts.values()))
    page = httpx.get(f"{xero.url}/Contacts/View/{contact['ContactID']}")
    assert page.status_code == 200 and contact["Name"].replace("'", "&#x27;") in page.text
    bill = next(iter(xero.state.invoices.values()))
    assert (
        httpx.get(f"{xero.url}/AccountsPayable/View.aspx", params={"InvoiceID": bill["InvoiceID"]}).status_code == 200
    )
    assert httpx.get(f"{xero.url}/Contacts/View/nope").status_code == 404


def test_documents_with_a_negative_total_are_refused(api: httpx.Client, xero: XeroSandbox) -> None:
    """A negative bill is a credit note in Xero and a purchase order has no negative form."""
    refund = {"Quantity": 1, "UnitAmount": -500.00, "Description": "Credit", "AccountCode": "320"}
    bill = api.put("/Invoices", json={"Invoices": [first_bill_body(xero, LineItems=[refund])]})
    assert bill.status_code == 400 and bill.json()["Type"] == "ValidationException"
    assert "must not be negative" in bill.text
    body = first_bill_body(xero)
    order = {"Contact": body["Contact"], "Date": "2026-10-01", "LineItems": [refund]}
    refused = api.put("/PurchaseOrders", json={"PurchaseOrders": [order]})
    assert refused.status_code == 400 and "must not be negative" in refused.text
    mixed = [refund, {**refund, "UnitAmount": 800.00, "Description": "Work"}]  # a credit line within a positive order
    assert api.put("/PurchaseOrders", json={"PurchaseOrders": [{**order, "LineItems": mixed}]}).status_code == 200
