"""Property tests of the money mappers: ``map`` of progress claims, direct invoices and payments on
generated records never crashes, keeps money Decimal to the cent, and adds up.

The integrations are real ones, prepared against the sandboxes after a nightly linked everything
(so lookups, cost codes and bills are what a run has); hypothesis then varies one real record at a
time — amounts with many decimals, zero and negative, dates in 1900 and 2100, hostile text,
unknown statuses and amount types — and each variant goes through ``validate`` and ``map``. A
variant either maps to a payload whose amounts are what its source adds up to, or carries a named
review issue (``<entity>.<problem>``) and no payload.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.integrations.apis import xero_api
from tests.integrations.test_progress_claims import link_prerequisites
from trestle.integrations.direct_invoices import DirectInvoicesIntegration, net_line_amount
from trestle.integrations.lookups import money
from trestle.integrations.payments import PaymentsIntegration
from trestle.integrations.progress_claim_lines import _gross_and_retainage
from trestle.integrations.progress_claims import ProgressClaimsIntegration
from trestle.models.procore import Requisition
from trestle.models.xero import Invoice, Payment
from trestle.settings import load_settings
from trestle.tasks.context import RunContext, RunOptions
from trestle.tasks.engine import Integration, Record

CENT = Decimal("0.01")
EXAMPLES = settings(max_examples=40, deadline=None, derandomize=True, database=None)

amounts = st.one_of(
    st.decimals(min_value=-(10**7), max_value=10**7, places=6, allow_nan=False, allow_infinity=False),
    st.sampled_from([Decimal(0), Decimal("0.005"), Decimal("-0.005"), Decimal("0.004999"), Decimal("1E+6")]),
)
dates = st.sampled_from([date(1900, 1, 1), date(2100, 12, 31), date(2026, 11, 30)])
texts = st.sampled_from(
    [
        'O\'Brien "Quoted" & Sons',
        "== && || ; DROP TABLE",
        "<script>alert('x')</script>",
        "Tab\tand\x07bell",
        "🏗️ Crane 🚧",
        "L" * 500,
        "   ",
        "",
    ]
)


def cents_only(value: Any) -> bool:
    return isinstance(value, Decimal) and value == value.quantize(CENT) and value.as_tuple().exponent == -2


def mapped(integration: Integration, source: Record) -> tuple[Record, dict[str, Any]]:
    """``source`` again as a fresh record, through validate and map as the pipeline calls them."""
    record = Record(source.id, source.label, source.data, updated_at=source.updated_at, url=source.url)
    record.link = source.link
    integration.validate(record)
    payload = {} if record.issues else integration.map(record)
    if record.issues:  # mapping can find problems too; the pipeline then skips the record
        payload = {}
    for issue in record.issues:
        assert issue.code.startswith(f"{integration.entity}.") and issue.message, issue
    return record, payload


def first_records(integration: Integration) -> list[Record]:
    integration.prepare()
    return [record for page in integration.fetch(None) for record in page.records]


@pytest.fixture
def linked_world(trestle_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Everything linked, claim bills AUTHORISED and one of them paid in part, as after a nightly."""
    monkeypatch.setenv("TRESTLE_SYNC_BILL_STATUS", "AUTHORISED")
    link_prerequisites("vendors", "projects", "cost_codes", "progress_claims")
    with xero_api(trestle_env) as xero:
        bills = xero.get("/Invoices", params={"where": 'Type=="ACCPAY" AND Status=="AUTHORISED"'}).json()["Invoices"]
        bill = next(b for b in bills if b.get("Url") and Decimal(str(b["AmountDue"])) > 10)
        payment = {"Invoice": {"InvoiceID": bill["InvoiceID"]}, "Account": {"Code": "090"}, "Amount": 10.0}
        xero.put("/Payments", json={"Payments": [{**payment, "Date": "2026-11-30"}]}).raise_for_status()
    return trestle_env


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_claims_map_to_cents_that_add_up(linked_world: dict[str, str]) -> None:
    # a full refresh: the claims were sent by the nightly, so a plain fetch leaves them out as settled
    ctx = RunContext(load_settings(), options=RunOptions(full_refresh=True))
    claims = ProgressClaimsIntegration(ctx)
    source = next(r for r in first_records(claims) if r.data.items)
    requisition: Requisition = source.data

    @EXAMPLES
    @given(
        st.lists(st.tuples(amounts, amounts, amounts), min_size=1, max_size=len(requisition.items or [])),
        dates,
        texts,
    )
    def check(values: list[tuple[Decimal, Decimal, Decimal]], billed: date, number: str) -> None:
        items = [
            item.model_copy(
                update={
                    "work_completed_this_period": work,
                    "materials_presently_stored": stored,
                    "work_completed_retainage_retained_this_period": held,
                    "materials_stored_retainage_currently_retained": None,
                }
            )
            for item, (work, stored, held) in zip(requisition.items or [], values, strict=False)
        ]
        variant = requisition.model_copy(update={"items": items, "billing_date": billed, "invoice_number": number})
        record, payload = mapped(claims, Record(source.id, source.label, variant, url=source.url))
        net = sum((gross - held for gross, held in map(_gross_and_retainage, items)), Decimal("0.00"))
        if not payload:
            assert record.issues, "no payload and no issue: the claim vanished silently"
            if net == 0:
                assert [issue.code for issue in record.issues] == ["progress_claim.zero_amount"]
            return
        assert payload["Type"] == ("ACCPAY" if net > 0 else "ACCPAYCREDIT")
        assert all(cents_only(line["UnitAmount"]) for line in payload["LineItems"])
        assert sum(line["UnitAmount"] for line in payload["LineItems"]) == abs(net)
        assert payload["Date"] == billed

    check()
    ctx.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_direct_invoices_map_to_cents_that_add_up(linked_world: dict[str, str]) -> None:
    ctx = RunContext(load_settings())
    direct = DirectInvoicesIntegration(ctx)
    source = next(r for r in first_records(direct) if r.data.line_items)
    bill: Invoice = source.data
    lines = bill.line_items or []

    @EXAMPLES
    @given(
        st.lists(st.tuples(amounts, amounts), min_size=len(lines), max_size=len(lines)),
        st.sampled_from(["Exclusive", "Inclusive", "NoTax", "SomeNewType", None]),
        st.sampled_from(["AUTHORISED", "PAID", "SOME_NEW_STATUS"]),
        dates,
        texts,
    )
    def check(
        values: list[tuple[Decimal, Decimal]], amount_types: str | None, status: str, billed: date, text: str
    ) -> None:
        varied = [
            line.model_copy(update={"line_amount": amount, "tax_amount": tax, "description": text})
            for line, (amount, tax) in zip(lines, values, strict=True)
        ]
        update = {
            "line_items": varied,
            "line_amount_types": amount_types,
            "status": status,
            "date": billed,
            "reference": text,
        }
        variant = bill.model_copy(update=update)
        record, payload = mapped(direct, Record(source.id, source.label, variant, url=source.url))
        if status not in ("AUTHORISED", "PAID"):
            assert payload in ({}, {"origin_id": source.id, "removed": True}), "an unknown status is never a cost"
            return
        if not payload:
            assert record.issues, "no payload and no issue: the bill vanished silently"
            return
        project_lines = [line for line in varied if direct._tracking(line, direct.project_category) is not None]
        assert all(cents_only(line["amount"]) for line in payload["line_items"])
        expected = sum((net_line_amount(line, amount_types) for line in project_lines), Decimal("0.00"))
        assert sum(line["amount"] for line in payload["line_items"]) == expected
        assert payload["direct_cost_date"] == billed
        assert all(len(line["description"] or "") <= 255 for line in payload["line_items"])

    check()
    ctx.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_payments_map_to_cents_within_the_commitment(linked_world: dict[str, str]) -> None:
    ctx = RunContext(load_settings())
    payments = PaymentsIntegration(ctx)
    source = first_records(payments)[0]
    paid: Payment = source.data

    @EXAMPLES
    @given(amounts, dates, texts)
    def check(amount: Decimal, paid_on: date, reference: str) -> None:
        variant = paid.model_copy(update={"amount": amount, "date": paid_on, "reference": reference})
        record, payload = mapped(payments, Record(source.id, source.label, variant, url=source.url))
        if not payload:
            assert record.issues, "no payload and no issue: the payment vanished silently"
            return
        body = payload["contract_payment"]
        assert money(amount) > 0, "a payment of nothing (or less) never reaches Procore"
        assert cents_only(body["amount"]) and Decimal(0) < body["amount"] <= money(amount)
        assert body["date"] == paid_on and body["origin_id"] == paid.payment_id
        assert body["notes"].endswith(reference) or not reference

    check()
    ctx.close()
