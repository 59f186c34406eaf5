"""Wire models: Decimal money, /Date()/ edge cases, tolerant enums, write serialisation."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from trestle.models.procore import DirectCost, DirectCostLineItem, Requisition
from trestle.models.xero import Contact, Invoice, LineItem, LineItemTracking, Payment


def test_xero_money_is_exact_decimal() -> None:
    payload = json.loads('{"Total": 46.10, "AmountDue": 0.30, "CurrencyRate": 1.2345678912}', parse_float=Decimal)
    invoice = Invoice.model_validate(payload)
    assert invoice.total == Decimal("46.10") and invoice.amount_due == Decimal("0.30")
    assert invoice.currency_rate == Decimal("1.2345678912")


def test_negative_epoch_date() -> None:
    invoice = Invoice.model_validate({"Date": "/Date(-86400000+0000)/", "UpdatedDateUTC": "/Date(-1000)/"})
    assert invoice.date == date(1969, 12, 31)
    assert invoice.updated_date_utc == datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_non_utc_offset_keeps_the_local_calendar_date() -> None:
    # midnight 1 April 2024 in +13:00 is 31 March 11:00 UTC
    epoch_ms = int((datetime(2024, 3, 31, 11, 0, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1000)
    payment = Payment.model_validate({"Date": f"/Date({epoch_ms}+1300)/", "UpdatedDateUTC": f"/Date({epoch_ms}+1300)/"})
    assert payment.date == date(2024, 4, 1)
    assert payment.updated_date_utc is not None
    assert payment.updated_date_utc.utcoffset() == timedelta(hours=13)
    assert payment.updated_date_utc == datetime(2024, 3, 31, 11, 0, tzinfo=UTC)


def test_zero_epoch_and_iso_strings_are_accepted() -> None:
    assert Invoice.model_validate({"DueDate": "/Date(0+0000)/"}).due_date == date(1970, 1, 1)
    assert Invoice.model_validate({"DueDate": "2018-10-20T00:00:00"}).due_date == date(2018, 10, 20)
    stamp = Contact.model_validate({"UpdatedDateUTC": "2024-01-02T03:04:05+13:00"}).updated_date_utc
    assert stamp == datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=13)))


def test_unknown_enum_values_and_fields_do_not_crash() -> None:
    contact = Contact.model_validate(
        {"ContactStatus": "GDPRREQUEST", "TaxNumberType": "TAXNUMBERTYPE/SSN", "BrandNewField": {"x": 1}}
    )
    assert contact.contact_status == "GDPRREQUEST" and contact.tax_number_type == "TAXNUMBERTYPE/SSN"
    assert Invoice.model_validate({"Status": "SOMETHING_NEW", "Type": "ACCPAYCREDIT"}).status == "SOMETHING_NEW"


def test_xero_to_wire_uses_aliases_numbers_and_drops_none() -> None:
    invoice = Invoice(
        type="ACCPAY",
        contact=Contact(contact_id="c-1"),
        date=date(2024, 3, 31),
        line_items=[
            LineItem(
                description="Steel",
                quantity=Decimal("2"),
                unit_amount=Decimal("10.25"),
                account_code="310",
                tracking=[LineItemTracking(name="Project", option="P-1001")],
            )
        ],
    )
    assert invoice.to_wire() == {
        "Type": "ACCPAY",
        "Contact": {"ContactID": "c-1"},
        "Date": "2024-03-31",
        "LineItems": [
            {
                "Description": "Steel",
                "Quantity": 2.0,
                "UnitAmount": 10.25,
                "AccountCode": "310",
                "Tracking": [{"Name": "Project", "Option": "P-1001"}],
            }
        ],
    }


def test_procore_money_strings_and_to_wire() -> None:
    requisition = Requisition.model_validate(
        {
            "id": 598134325841112,
            "status": "approved_as_noted",
            "total_claimed_amount": "12500.5",
            "summary": {"current_payment_due": "11875.48", "total_retainage": ""},
            "billing_date": "2024-04-30",
            "updated_at": "2020-10-19T19:17:59Z",
        }
    )
    assert requisition.total_claimed_amount == Decimal("12500.5")
    assert requisition.summary is not None and requisition.summary.current_payment_due == Decimal("11875.48")
    assert requisition.summary.total_retainage is None
    assert requisition.billing_date == date(2024, 4, 30)
    cost = DirectCost(
        direct_cost_type="invoice",
        invoice_number="INV-1",
        vendor_id=5,
        direct_cost_date=date(2024, 5, 2),
        line_items=[DirectCostLineItem(amount=Decimal("99.90"), cost_code_id=12)],
    )
    assert cost.to_wire() == {
        "direct_cost_type": "invoice",
        "invoice_number": "INV-1",
        "vendor_id": 5,
        "direct_cost_date": "2024-05-02",
        "line_items": [{"amount": "99.90", "cost_code_id": 12}],
    }
