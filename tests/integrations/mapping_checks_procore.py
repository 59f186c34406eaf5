"""Checks of the Xero → Procore integrations' mappings (payments, direct invoices): what reached
Procore, read over its API, against the Xero records behind it. Used by ``test_mapping_all.py``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from tests.integrations.mapping_helpers import Check, World, cents, differs, iso_date, tracking_of, xero_date
from trestle.integrations.direct_invoices import split_targets

Pairs = Iterator[tuple[str, Any, Any]]


# --------------------------------------------------------------------------- payments
def payment_pairs(world: World) -> Pairs:
    claim_for_bill = {link.xero_id: link.procore_id for link in world.store.links("progress_claim")}
    claims: dict[str, dict[str, Any]] = {}
    procore_payments: dict[str, dict[str, Any]] = {}
    for project_id in world.project_option:
        params = {"project_id": project_id, "per_page": 1000}
        for claim in world.procore.get("/rest/v1.1/requisitions", params=params).json():
            claims[str(claim["id"])] = claim
    for project_id, contract_id in {(c["project_id"], c["commitment_id"]) for c in claims.values()}:
        params = {"project_id": project_id, "contract_id": contract_id}
        for row in world.procore.get("/rest/v1.0/contract_payments", params=params).json():
            procore_payments[row.get("origin_id") or ""] = row
    for link in world.store.links("payment"):
        payment = world.xero.get(f"/Payments/{link.xero_id}").json()["Payments"][0]
        bill = world.xero.get(f"/Invoices/{payment['Invoice']['InvoiceID']}").json()["Invoices"][0]
        claim = claims[claim_for_bill[bill["InvoiceID"]]]
        source = {
            "payment": payment,
            "bill": bill,
            "claim": claim,
            "sent": (link.last_payload or {})["contract_payment"],
        }
        yield payment["PaymentID"], source, procore_payments.get(payment["PaymentID"], {})


def _payment_number(source: dict[str, Any], target: dict[str, Any], _: World) -> str | None:
    ordered = sorted(source["bill"].get("Payments") or [], key=lambda p: xero_date(p["Date"]) or date.max)
    position = 1 + [p["PaymentID"] for p in ordered].index(source["payment"]["PaymentID"])
    return differs("payment_number", str(target.get("payment_number")), str(position))


def _cost_share(source: dict[str, Any]) -> Decimal:
    bill, amount = source["bill"], Decimal(str(source["payment"]["Amount"]))
    return cents(amount * Decimal(str(bill["SubTotal"])) / Decimal(str(bill["Total"])))


def _write_only(source: dict[str, Any], target: dict[str, Any], name: str, expected: Any) -> str | None:
    """A field Procore takes but never returns (invoice_date, payment_method: absent from the documented
    contract payment response), so it is checked in what Trestle sent, and its absence from the answer is
    asserted so that this check is tightened the day the API starts returning it."""
    if name in target:
        return f"{name} is now returned ({target[name]!r}): compare it with {expected!r} here"
    return differs(f"{name} sent", source["sent"].get(name), expected)


PAYMENT_CHECKS: dict[str, Check] = {
    "date": lambda s, t, _: differs("date", iso_date(t.get("date")), xero_date(s["payment"]["Date"])),
    "invoice_number, invoice_date": lambda s, t, _: (
        differs("invoice_number", t.get("invoice_number"), s["bill"]["InvoiceNumber"])
        or _write_only(s, t, "invoice_date", str(xero_date(s["bill"]["Date"])))
    ),
    "contract_id, requisition_id": lambda s, t, _: differs(
        "contract and requisition",
        (t.get("contract_id"), t.get("requisition_id")),
        (s["claim"]["commitment_id"], s["claim"]["id"]),
    ),
    "payment_number": _payment_number,
    "payment_method": lambda s, t, _: _write_only(s, t, "payment_method", "electronic"),
    "notes": lambda s, t, _: differs(
        "notes", t.get("notes"), ": ".join(p for p in ("Paid in Xero", s["payment"].get("Reference")) if p)
    ),
    "origin_id": lambda s, t, _: differs("origin_id", t.get("origin_id"), s["payment"]["PaymentID"]),
    "amount": lambda s, t, _: differs("amount", cents(t.get("amount") or 0), _cost_share(s)),
}


# --------------------------------------------------------------------------- direct invoices
def direct_cost_pairs(world: World) -> Pairs:
    """Each part of each bill (one direct cost per project) with the bill."""
    for link in world.store.links("direct_cost"):
        bill = world.xero.get(f"/Invoices/{link.xero_id}").json()["Invoices"][0]
        parts = split_targets(link.procore_id)
        for project_id, direct_cost_id in parts.items():
            shown = world.procore.get(f"/rest/v1.1/projects/{project_id}/direct_costs/{direct_cost_id}").json()
            shown["split_over"] = len(parts)  # a split bill's parts carry <InvoiceID>@<project id>
            yield f"{bill.get('InvoiceNumber') or link.xero_id} in {project_id}", bill, shown


def _bill_lines(bill: dict[str, Any], cost: dict[str, Any], world: World) -> str | None:
    """The part's project's lines net of tax, summed per cost code option (one-cent exact here)."""
    want: dict[str, Decimal] = defaultdict(Decimal)
    project = world.project_option.get(str(cost["project"]["id"]))
    for line in bill["LineItems"]:
        tracking = tracking_of(line)
        if tracking.get("Project") == project:
            amount = Decimal(str(line["LineAmount"]))
            if bill["LineAmountTypes"] == "Inclusive":
                amount -= Decimal(str(line.get("TaxAmount") or 0))
            want[tracking["Cost Code"]] += amount
    got: dict[str, Decimal] = defaultdict(Decimal)
    for line in cost.get("line_items") or []:
        got[world.code_option[line["cost_code"]["id"]]] += cents(line["amount"])
    return differs("amount per cost code", dict(got), {k: cents(v) for k, v in want.items()})


def _vendor_id(cost: dict[str, Any]) -> str | None:
    vendor = cost.get("vendor_id") or (cost.get("vendor") or {}).get("id")
    return str(vendor) if vendor is not None else None


DIRECT_COST_CHECKS: dict[str, Check] = {
    "origin_id": lambda b, c, _: differs(
        "origin_id",
        c.get("origin_id"),
        f"{b['InvoiceID']}@{c['project']['id']}" if c["split_over"] > 1 else b["InvoiceID"],
    ),
    "vendor_id": lambda b, c, w: differs("vendor", _vendor_id(c), w.vendor_for_contact[b["Contact"]["ContactID"]]),
    "invoice_number": lambda b, c, _: differs("invoice_number", c.get("invoice_number"), b["InvoiceNumber"]),
    "direct_cost_date": lambda b, c, _: differs(
        "direct_cost_date", iso_date(c.get("direct_cost_date")), xero_date(b["Date"])
    ),
    "payment_date": lambda b, c, _: differs(
        "payment_date",
        iso_date(c.get("payment_date")),
        xero_date(b.get("FullyPaidOnDate")) if b["Status"] == "PAID" else None,
    ),
    "direct_cost_type, status": lambda _b, c, _: differs(
        "type and status", (c.get("direct_cost_type"), c.get("status")), ("invoice", "approved")
    ),
    "description": lambda b, c, _: differs("description", c.get("description") or None, b.get("Reference") or None),
    "line_items": _bill_lines,
}
