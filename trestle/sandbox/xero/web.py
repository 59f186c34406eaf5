"""Human pages at the same paths as Xero's web app (links in Trestle's emails point here).

Plain HTML, no auth, one page per record kind; anything unknown gets a 404 page.
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from trestle.sandbox.xero.documents import CREDIT_NOTE, INVOICE, PURCHASE_ORDER, DocumentKind, find_document
from trestle.sandbox.xero.state import Record, XeroState, normalise_id

router = APIRouter(include_in_schema=False)


def _text(value: Any) -> str:
    return "" if value is None else escape(str(value))


def _page(title: str, rows: list[tuple[str, Any]], extra: str = "") -> HTMLResponse:
    table = "".join(f"<tr><th>{escape(label)}</th><td>{_text(value)}</td></tr>" for label, value in rows)
    body = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)} - Xero sandbox</title></head>"
        f"<body><h1>{escape(title)}</h1><table>{table}</table>{extra}</body></html>"
    )
    return HTMLResponse(body)


def _missing(what: str) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><body><h1>Not found</h1><p>No {escape(what)} with that ID.</p></body></html>",
        status_code=404,
    )


def _state(request: Request) -> XeroState:
    state: XeroState = request.app.state.xero
    return state


def _document_page(state: XeroState, kind: DocumentKind, key: str | None) -> HTMLResponse:
    doc = find_document(state, kind, key or "") if key else None
    if doc is None:
        return _missing(kind.label.lower())
    contact = state.contacts.get(doc.get("_contact_id", ""), {})
    lines = "".join(
        f"<tr><td>{_text(line.get('Description'))}</td><td>{_text(line.get('AccountCode'))}</td>"
        f"<td>{_text(line['LineAmount'])}</td></tr>"
        for line in doc["LineItems"]
    )
    extra = f"<h2>Lines</h2><table><tr><th>Description</th><th>Account</th><th>Amount</th></tr>{lines}</table>"
    rows: list[tuple[str, Any]] = [
        ("Number", doc.get(kind.number_key)),
        ("Type", doc.get("Type")),
        ("Contact", contact.get("Name")),
        ("Status", doc["Status"]),
        ("Date", doc.get("Date")),
        ("Due date", doc.get("DueDate")),
        ("Reference", doc.get("Reference")),
        ("Total", doc.get("Total")),
        ("Amount due", doc.get("AmountDue", doc.get("RemainingCredit"))),
    ]
    return _page(f"{kind.label} {doc.get(kind.number_key) or doc[kind.id_key]}", rows, extra)


@router.get("/Contacts/View/{contact_id}")
async def contact_page(contact_id: str, request: Request) -> HTMLResponse:
    """A contact's main fields."""
    contact: Record | None = _state(request).contacts.get(normalise_id(contact_id))
    if contact is None:
        return _missing("contact")
    street: Record = next((a for a in contact.get("Addresses", []) if a.get("AddressType") == "STREET"), {})
    address = ", ".join(
        str(street[k]) for k in ("AddressLine1", "City", "Region", "PostalCode", "Country") if street.get(k)
    )
    return _page(
        contact["Name"],
        [
            ("Status", contact["ContactStatus"]),
            ("Contact number", contact.get("ContactNumber")),
            ("Email", contact.get("EmailAddress")),
            ("Tax number", contact.get("TaxNumber")),
            ("Address", address),
        ],
    )


@router.get("/AccountsPayable/View.aspx")
async def bill_page(request: Request) -> HTMLResponse:
    return _document_page(_state(request), INVOICE, request.query_params.get("InvoiceID"))


@router.get("/AccountsPayable/ViewCreditNote.aspx")
async def credit_note_page(request: Request) -> HTMLResponse:
    return _document_page(_state(request), CREDIT_NOTE, request.query_params.get("creditNoteID"))


@router.get("/Accounts/Payable/PurchaseOrders/View/{purchase_order_id}")
async def purchase_order_page(purchase_order_id: str, request: Request) -> HTMLResponse:
    return _document_page(_state(request), PURCHASE_ORDER, purchase_order_id)


@router.get("/Setup/Tracking.aspx")
async def tracking_page(request: Request) -> HTMLResponse:
    """A tracking category with its options."""
    category_id = normalise_id(request.query_params.get("CategoryID"))
    category = _state(request).tracking_categories.get(category_id)
    if category is None or category["Status"] == "DELETED":
        return _missing("tracking category")
    options = "".join(
        f"<li>{_text(option['Name'])} ({_text(option['Status'])})</li>"
        for option in category["Options"]
        if option["Status"] != "DELETED"
    )
    return _page(category["Name"], [("Status", category["Status"])], f"<h2>Options</h2><ul>{options}</ul>")
