"""The official SDK (xero-python) as an independent client of the simulator."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from tests.sandbox.xero.conftest import API, XeroSandbox
from trestle.sandbox.common import sandbox_client

xero_python = pytest.importorskip("xero_python")

from xero_python.accounting import (  # noqa: E402
    Account,
    AccountingApi,
    Contact,
    Invoice,
    Invoices,
    LineAmountTypes,
    LineItem,
    LineItemTracking,
    Payment,
)
from xero_python.api_client import ApiClient, Configuration  # noqa: E402
from xero_python.api_client.oauth2 import OAuth2Token, TokenApi  # noqa: E402


def _value(enum_or_text: Any) -> Any:
    return getattr(enum_or_text, "value", enum_or_text)


@pytest.fixture
def accounting(xero: XeroSandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[AccountingApi]:
    client = sandbox_client("xero", 1)
    monkeypatch.setattr(TokenApi, "client_credentials_token_url", f"{xero.url}/connect/token")
    store: dict[str, Any] = {}
    api_client = ApiClient(
        Configuration(oauth2_token=OAuth2Token(client_id=client.client_id, client_secret=client.client_secret)),
        oauth2_token_getter=lambda: store.get("token"),
        oauth2_token_saver=lambda token: store.__setitem__("token", token),
    )
    api_client.get_client_credentials_token()
    assert store["token"]["access_token"]
    yield AccountingApi(api_client, base_url=f"{xero.url}{API}")


def test_sdk_lists_contacts_creates_and_pays_a_bill(accounting: AccountingApi, xero: XeroSandbox) -> None:
    contacts = accounting.get_contacts(xero.tenant_id, page=1).contacts
    assert contacts and all(_value(c.contact_status) == "ACTIVE" for c in contacts)
    project_option = next(c for c in xero.state.tracking_categories.values() if c["Name"] == "Project")["Options"][0][
        "Name"
    ]
    bill = Invoice(
        type="ACCPAY",
        contact=Contact(contact_id=contacts[0].contact_id),
        date=date(2026, 10, 1),
        due_date=date(2026, 10, 31),
        invoice_number="SDK-1",
        status="AUTHORISED",
        line_amount_types=LineAmountTypes.EXCLUSIVE,
        line_items=[
            LineItem(
                description="Steel",
                quantity=Decimal(1),
                unit_amount=Decimal("250.50"),
                account_code="325",
                tax_type="INPUT",
                tracking=[LineItemTracking(name="Project", option=project_option)],
            )
        ],
    )
    created = accounting.create_invoices(xero.tenant_id, Invoices(invoices=[bill])).invoices[0]
    assert created.total == Decimal("275.55")
    assert created.line_items[0].tracking[0].option == project_option

    payment = Payment(
        invoice=Invoice(invoice_id=created.invoice_id),
        account=Account(code="090"),
        amount=Decimal("275.55"),
        date=date(2026, 11, 1),
    )
    accounting.create_payment(xero.tenant_id, payment)
    paid = accounting.get_invoice(xero.tenant_id, created.invoice_id).invoices[0]
    assert _value(paid.status) == "PAID"
    assert paid.amount_due == 0
    assert paid.fully_paid_on_date == date(2026, 11, 1)
