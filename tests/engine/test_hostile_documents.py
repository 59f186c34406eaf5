"""Hostile documents through the sandboxes: Xero bills for direct invoices and Xero payments of
progress-claim bills, with quotes, ``==``, ``&&``, HTML, control characters, emoji and a
255-character number, amounts with four decimals, zero and negative lines, dates in 1900 and 2100.

Each becomes what it should in Procore (text intact, amounts to the cent) or a named review issue;
the good records around them still sync, the summary email shows the text escaped, and a rerun
writes nothing twice; a payment status Xero may add is a named issue, never a payment made.
(Procore's subcontractor invoices cannot be created through the API, so hostile claims are made
by the sandbox's answers: ``tests/engine/test_unreadable_records.py``, and
``tests/integrations/test_map_properties.py`` for the mapper.)
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.engine.test_hostile_input import html_parts
from tests.engine.test_unreadable_records import garble
from tests.integrations.apis import procore_api, xero_api
from tests.integrations.test_direct_invoices import bill, cost_code_option, direct_costs, project_ids, xero_bills
from tests.integrations.test_progress_claims import link_prerequisites, run, store
from trestle.cli import run_flow
from trestle.flows import get_flow

HOSTILE_NUMBERS = [
    'INV "Quoted" O\'Brien & Sons',
    "==1+1 && rm -rf / ||",
    "<script>alert('x')</script><b>B</b>",
    "Tab\tand\x07bell",
    "🏗️ 🚧 42",
    "N" * 255,
]
CENT = Decimal("0.01")


def plant_bills(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Hostile AUTHORISED bills coded like a bill direct invoices already sent; by InvoiceID."""
    links = store(env)
    model = xero_bills(env)[links.links("direct_cost")[0].xero_id]
    template = next(line for line in model["LineItems"] if cost_code_option(line))
    tracking = [{"Name": t["Name"], "Option": t["Option"]} for t in template["Tracking"]]
    contact = {"ContactID": model["Contact"]["ContactID"]}
    line = {"Description": "Timber", "AccountCode": "320", "TaxType": "INPUT", "Tracking": tracking}
    bills = [
        bill(contact, number, [{**line, "Quantity": 1, "UnitAmount": 100}], Reference=number)
        for number in HOSTILE_NUMBERS
    ]
    bills += [
        bill(contact, "FOUR-DP", [{**line, "Quantity": 3, "UnitAmount": 333.3333}]),
        bill(contact, "CREDIT-LINE", [{**line, "Quantity": 1, "UnitAmount": 500}, {**line, "UnitAmount": -120.55}]),
        bill(contact, "OLD-1900", [{**line, "Quantity": 1, "UnitAmount": 10}], Date="1900-01-01", DueDate="1900-01-31"),
        bill(contact, "NEW-2100", [{**line, "Quantity": 1, "UnitAmount": 10}], Date="2100-12-01", DueDate="2100-12-31"),
        bill(contact, "ZERO", [{**line, "Quantity": 1, "UnitAmount": 0}]),
        bill(contact, "", [{**line, "Quantity": 1, "UnitAmount": 5}]),
        bill(contact, "GARBLED", [{**line, "Quantity": 1, "UnitAmount": 7}]),
    ]
    with xero_api(env) as xero:
        made = xero.post("/Invoices", json={"Invoices": bills})
        assert made.status_code == 200, made.text
        return {planted["InvoiceID"]: planted for planted in made.json()["Invoices"]}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_hostile_bills_become_direct_costs_or_named_issues_and_the_email_is_escaped(
    trestle_env: dict[str, str],
) -> None:
    link_prerequisites("vendors", "projects", "cost_codes")
    run("direct_invoices")
    links = store(trestle_env)
    seeded = {link.xero_id for link in links.links("direct_cost")}
    planted = plant_bills(trestle_env)
    numbers = {sent["InvoiceNumber"]: invoice_id for invoice_id, sent in planted.items()}
    garbled = numbers["GARBLED"]  # its lines (where its project is) answered as an object: named, not passed over
    garble(trestle_env["TRESTLE_XERO_API_URL"], "/api.xro/2.0/Invoices", "InvoiceID", garbled, set={"LineItems": {}})

    summary = run_flow(get_flow("direct_invoices"), notify=True)["integrations"]["direct_invoices"]
    assert summary["outcome"] in ("success", "issues") and summary["failed"] == 0, summary
    costs = direct_costs(trestle_env, project_ids(links))
    issues = {issue.record_id: issue.code for issue in links.open_issues(integration="direct_invoices")}
    for invoice_id, sent in planted.items():
        if invoice_id in issues:
            assert issues[invoice_id].startswith("direct_cost."), issues[invoice_id]
            assert invoice_id not in costs
            continue
        cost = costs[invoice_id]
        assert cost["invoice_number"] == sent["InvoiceNumber"], "the number reaches Procore untouched"
        lines = sum(Decimal(str(line["amount"])) for line in cost["line_items"])
        assert lines == Decimal(str(sent["SubTotal"])).quantize(CENT), (sent["InvoiceNumber"], lines)
    assert issues[numbers[""]] == "direct_cost.no_invoice_number"
    assert issues[garbled] == "direct_cost.unreadable" and garbled not in costs
    assert {numbers[number] for number in HOSTILE_NUMBERS} <= set(costs), "hostile text is no reason to refuse"
    assert costs[numbers["OLD-1900"]]["direct_cost_date"] == "1900-01-01"
    assert costs[numbers["NEW-2100"]]["direct_cost_date"] == "2100-12-01"
    assert seeded <= {link.xero_id for link in links.links("direct_cost")}, "the good bills stayed synced"

    html = html_parts(Path(trestle_env["TRESTLE_HOME"]) / "outbox")
    assert html and "<script>" not in html, "a bill's text must never become markup in the email"
    again = run("direct_invoices")
    assert again["created"] == 0 and again["failed"] == 0, "a rerun writes nothing twice"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_hostile_payments_reach_procore_to_the_cent(
    trestle_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRESTLE_SYNC_BILL_STATUS", "AUTHORISED")
    link_prerequisites("vendors", "projects", "cost_codes", "progress_claims")
    bill_ids = [link.xero_id for link in store(trestle_env).links("progress_claim")]
    with xero_api(trestle_env) as xero:
        bills = xero.get("/Invoices", params={"IDs": ",".join(bill_ids)}).json()["Invoices"]
        payable = [b for b in bills if b["Type"] == "ACCPAY" and Decimal(str(b["AmountDue"])) > 5][:3]
        assert len(payable) == 3
        references = ["<script>alert('x')</script> & \"paid\"", "🏦 == && ||", "Ctl\x07" + "R" * 200]
        payments = [
            {
                "Invoice": {"InvoiceID": paid["InvoiceID"]},
                "Account": {"Code": "090"},
                "Date": day,
                "Amount": amount,
                "Reference": reference,
            }
            for paid, reference, day, amount in zip(
                payable, references, ["1900-01-02", "2100-12-30", "2026-11-30"], [1.2345, 0.01, 2.5], strict=True
            )
        ]
        unknown = {**payments[0], "Amount": 0.02, "Reference": "status Xero may add", "Date": "2026-11-29"}
        made = xero.put("/Payments", json={"Payments": [*payments, unknown]})
        assert made.status_code == 200, made.text
        sent = {payment["PaymentID"]: payment for payment in made.json()["Payments"]}
    pending = made.json()["Payments"][-1]["PaymentID"]
    garble(
        trestle_env["TRESTLE_XERO_API_URL"], "/api.xro/2.0/Payments", "PaymentID", pending, set={"Status": "PENDING"}
    )

    summary = run_flow(get_flow("payments"), notify=True)["integrations"]["payments"]
    assert summary["outcome"] in ("success", "issues") and summary["failed"] == 0, summary
    links = {link.xero_id: link for link in store(trestle_env).links("payment")}
    issues = {issue.record_id: issue.code for issue in store(trestle_env).open_issues(integration="payments")}
    with procore_api(trestle_env) as procore:
        for payment_id, payment in sent.items():
            if payment_id in issues:
                assert issues[payment_id].startswith("payment."), issues[payment_id]
                continue
            body = links[payment_id].last_payload
            project, contract = body["project_id"], body["contract_id"]
            listed = procore.get(
                "/rest/v1.0/contract_payments", params={"project_id": project, "contract_id": contract}
            ).json()
            found = next(row for row in listed if row.get("origin_id") == payment_id)
            assert Decimal(str(found["amount"])) == Decimal(str(body["contract_payment"]["amount"]))
            assert Decimal(str(found["amount"])).as_tuple().exponent >= -2, "money to the cent"
            assert payment["Reference"] in (found.get("notes") or ""), "the reference reaches Procore untouched"
    assert len(links) >= len(sent) - len(issues)
    assert issues[pending] == "payment.unknown_status" and pending not in links, "never read as a payment made"
    assert set(sent) - {pending} <= set(links), "the hostile payments around it reached Procore"
    html = html_parts(Path(trestle_env["TRESTLE_HOME"]) / "outbox")
    assert "<script>" not in html
    again = run("payments")
    assert again["created"] == 0 and again["failed"] == 0, "a rerun writes nothing twice"
