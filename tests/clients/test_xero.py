"""XeroClient: paging to the end, headers, ID chunking, batch writes with per-element results."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest

from tests.clients.conftest import XERO_TENANT, Recorder, Sleeps, envelope, xero_json
from trestle.clients import BadRequestError, StaticTokenAuthenticator, XeroClient
from trestle.models.xero import Contact, Invoice, LineItem


def client_for(recorder: Recorder, page_size: int = 1000) -> XeroClient:
    return XeroClient(
        api_url="https://api.xero.test",
        tenant_id=XERO_TENANT,
        authenticator=StaticTokenAuthenticator("access-abc"),
        transport=recorder.transport,
        sleep=Sleeps(),
        page_size=page_size,
    )


def contact(number: int) -> dict[str, object]:
    return {
        "ContactID": f"00000000-0000-4000-8000-{number:012d}",
        "Name": f"Supplier {number}",
        "ContactStatus": "ACTIVE",
        "TaxNumberType": "TAXNUMBERTYPE/EIN",
        "UpdatedDateUTC": "/Date(1541176290160+0000)/",
    }


def test_contacts_paged_to_the_end_with_headers() -> None:
    rows = [contact(n) for n in range(5)]

    def handler(request: httpx.Request) -> httpx.Response:
        page, size = int(request.url.params["page"]), int(request.url.params["pageSize"])
        chunk = rows[(page - 1) * size : page * size]
        pagination = {"page": page, "pageSize": size, "pageCount": 3, "itemCount": 5}
        return xero_json(envelope("Contacts", chunk, pagination=pagination))

    recorder = Recorder(handler)
    since = datetime(2024, 1, 2, 16, 4, 5, tzinfo=timezone(timedelta(hours=13)))
    found = list(client_for(recorder, page_size=2).iter_contacts(modified_since=since, include_archived=True))
    assert [item.name for item in found] == [f"Supplier {n}" for n in range(5)]
    assert [request.url.params["page"] for request in recorder.requests] == ["1", "2", "3"]
    first = recorder.requests[0]
    assert first.url.path == "/api.xro/2.0/Contacts"
    assert first.headers["xero-tenant-id"] == XERO_TENANT
    assert first.headers["Accept"] == "application/json"
    assert first.headers["Authorization"] == "Bearer access-abc"
    assert first.headers["If-Modified-Since"] == "2024-01-02T03:04:05"
    assert first.url.params["includeArchived"] == "true"
    assert found[0].tax_number_type == "TAXNUMBERTYPE/EIN"


def test_full_last_page_stops_at_page_count() -> None:
    recorder = Recorder(
        lambda request: xero_json(
            envelope("Payments", [{"PaymentID": "p1"}, {"PaymentID": "p2"}], pagination={"pageCount": 1})
        )
    )
    assert len(list(client_for(recorder, page_size=2).iter_payments())) == 2
    assert len(recorder.requests) == 1


def test_get_invoices_sends_ids_fifty_at_a_time() -> None:
    ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(120)]

    def handler(request: httpx.Request) -> httpx.Response:
        asked = request.url.params["IDs"].split(",")
        return xero_json(envelope("Invoices", [{"InvoiceID": each, "Type": "ACCPAY"} for each in asked]))

    recorder = Recorder(handler)
    invoices = client_for(recorder).get_invoices(ids)
    assert [invoice.invoice_id for invoice in invoices] == ids
    assert [len(request.url.params["IDs"].split(",")) for request in recorder.requests] == [50, 50, 20]


def test_invoice_filters_are_comma_joined() -> None:
    recorder = Recorder(lambda request: xero_json(envelope("Invoices", [])))
    list(client_for(recorder).iter_invoices(statuses=["AUTHORISED", "PAID"], contact_ids=["c1", "c2"]))
    params = recorder.requests[0].url.params
    assert params["Statuses"] == "AUTHORISED,PAID" and params["ContactIDs"] == "c1,c2"
    assert params["pageSize"] == "1000"


def echo_invoices(request: httpx.Request) -> httpx.Response:
    sent = json.loads(request.content)["Invoices"]
    echoed = []
    for index, element in enumerate(sent):
        if element.get("InvoiceNumber") == "BAD":
            echoed.append(
                {
                    **element,
                    "HasErrors": True,
                    "StatusAttributeString": "ERROR",
                    "ValidationErrors": [{"Message": "Account code '476' is not a valid code for this document."}],
                    "LineItems": [{"ValidationErrors": [{"Message": "Description is required."}]}],
                }
            )
        else:
            echoed.append({**element, "InvoiceID": f"inv-{index}", "StatusAttributeString": "OK", "Warnings": []})
    return xero_json(envelope("Invoices", echoed))


def test_save_invoices_chunks_of_fifty_with_derived_keys_and_results_in_order() -> None:
    recorder = Recorder(echo_invoices)
    bills = [
        Invoice(type="ACCPAY", invoice_number="BAD" if n == 55 else f"SI-{n}", contact=Contact(contact_id="c-1"))
        for n in range(60)
    ]
    results = client_for(recorder).save_invoices(bills, idempotency_key="bills-run-7")
    assert len(results) == 60
    assert [result.ok for result in results].count(False) == 1
    failed = results[55]
    assert not failed.ok and failed.errors == [
        "Account code '476' is not a valid code for this document.",
        "Description is required.",
    ]
    assert results[0].ok and results[0].record is not None and results[0].record.invoice_id == "inv-0"
    assert [request.headers["Idempotency-Key"] for request in recorder.requests] == ["bills-run-7-1", "bills-run-7-2"]
    assert [len(json.loads(request.content)["Invoices"]) for request in recorder.requests] == [50, 10]
    assert all(request.url.params["summarizeErrors"] == "false" for request in recorder.requests)
    assert recorder.requests[0].method == "POST"


def test_write_body_uses_numbers_for_money_and_iso_dates() -> None:
    recorder = Recorder(echo_invoices)
    bill = Invoice(
        type="ACCPAY",
        invoice_number="SI-1",
        date=datetime(2024, 3, 31, tzinfo=UTC).date(),
        line_items=[LineItem(description="Frame", quantity=Decimal("1.0000"), unit_amount=Decimal("1250.10"))],
    )
    client_for(recorder).save_invoices([bill], idempotency_key="one")
    body = recorder.requests[0].content.decode()
    assert '"Date":"2024-03-31"' in body and '"UnitAmount":1250.1' in body and '"Quantity":1.0' in body
    assert recorder.requests[0].headers["Idempotency-Key"] == "one"


def test_summarised_validation_400_is_mapped_to_elements() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        failing = {
            "Name": "Dup Builders",
            "ContactNumber": "V-2",
            "HasValidationErrors": True,
            "ValidationErrors": [{"Message": "The contact name Dup Builders is already assigned to another contact."}],
        }
        body = {
            "ErrorNumber": 10,
            "Type": "ValidationException",
            "Message": "A validation exception occurred",
            "Elements": [failing],
        }
        return xero_json(body, 400)

    contacts = [Contact(name="Fine Co", contact_number="V-1"), Contact(name="Dup Builders", contact_number="V-2")]
    results = client_for(Recorder(handler)).save_contacts(contacts, idempotency_key="contacts-1")
    assert results[1].ok is False and "already assigned" in results[1].errors[0]
    assert results[1].outcome_unknown is False
    assert results[0].ok is False and results[0].outcome_unknown is True


def test_other_400_is_bad_request() -> None:
    recorder = Recorder(
        lambda request: xero_json({"ErrorNumber": 16, "Type": "QueryParseException", "Message": "bad where"}, 400)
    )
    with pytest.raises(BadRequestError, match="bad where"):
        list(client_for(recorder).iter_invoices(where="Status=="))


def test_idempotency_key_too_long_is_refused_before_sending() -> None:
    recorder = Recorder(echo_invoices)
    with pytest.raises(ValueError):
        client_for(recorder).save_invoices([Invoice(invoice_number="x")], idempotency_key="k" * 129)
    assert recorder.requests == []


def test_delete_payment_and_tracking_update_bodies() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "/Payments/" in request.url.path:
            return xero_json(envelope("Payments", [{"PaymentID": "p-1", "Status": "DELETED", "Amount": 10.5}]))
        return xero_json(envelope("Options", [{"TrackingOptionID": "o-1", "Name": "P-1", "Status": "ARCHIVED"}]))

    recorder = Recorder(handler)
    client = client_for(recorder)
    payment = client.delete_payment("p-1", idempotency_key="del-p-1")
    option = client.update_tracking_option("c-1", "o-1", status="ARCHIVED", idempotency_key="arch-o-1")
    assert payment.status == "DELETED" and payment.amount == Decimal("10.5")
    assert option.status == "ARCHIVED"
    assert [json.loads(request.content) for request in recorder.requests] == [
        {"Status": "DELETED"},
        {"Status": "ARCHIVED"},
    ]
    assert recorder.requests[1].url.path == "/api.xro/2.0/TrackingCategories/c-1/Options/o-1"


def test_connections_has_no_tenant_header() -> None:
    recorder = Recorder(
        lambda request: httpx.Response(
            200,
            json=[
                {
                    "id": "conn-1",
                    "tenantId": XERO_TENANT,
                    "tenantType": "ORGANISATION",
                    "tenantName": "Demo",
                    "createdDateUtc": "2019-12-07T18:46:19.5165400",
                }
            ],
        )
    )
    (connection,) = client_for(recorder).connections()
    assert connection.tenant_id == XERO_TENANT and connection.created_date_utc is not None
    assert "xero-tenant-id" not in recorder.requests[0].headers
    assert recorder.requests[0].url.path == "/connections"
