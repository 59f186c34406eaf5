"""Invoices (bills are ``ACCPAY``), credit notes and purchase orders: create, update, lifecycle.

Invoice and credit note lifecycle: DRAFT ⇄ SUBMITTED → AUTHORISED; DELETED only from DRAFT or
SUBMITTED; VOIDED only from AUTHORISED with no payments; PAID is set by the simulator when the
amount due reaches zero (see ``payments``). Purchase orders move freely between DRAFT,
SUBMITTED, AUTHORISED and BILLED and can be DELETED from any of them. A document with payments
cannot be changed; a DELETED or VOIDED one cannot be changed at all. An update keeps every field
not sent, except ``LineItems``, which are replaced as a whole (lines sent with a known
``LineItemID`` keep it). ``Total`` and other computed fields a client sends are ignored.

A document whose lines total less than zero is refused (the reference is silent; the narrower
reading, since a negative bill is a credit note in Xero and a purchase order has no negative form).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from trestle.sandbox.xero.contacts import contact_summary, ensure_contact, resolve_contact
from trestle.sandbox.xero.lines import LINE_AMOUNT_TYPES, ZERO, build_line, document_totals, present_lines
from trestle.sandbox.xero.state import ElementInvalid, Problems, Record, XeroState, new_id, normalise_id
from trestle.sandbox.xero.wire import BadValue, parse_date, parse_decimal


@dataclass(frozen=True)
class DocumentKind:
    """What differs between invoices, credit notes and purchase orders."""

    label: str
    id_key: str
    number_key: str
    store: str
    types: tuple[str, ...]
    create_statuses: frozenset[str]
    error_flag: str | None  # None where the spec's schema declares no such flag (purchase orders)
    text_fields: tuple[str, ...]
    date_fields: tuple[str, ...]


_COMMON_TEXT = ("Reference", "CurrencyCode", "BrandingThemeID")
INVOICE = DocumentKind(
    "Invoice",
    "InvoiceID",
    "InvoiceNumber",
    "invoices",
    ("ACCPAY", "ACCREC"),
    frozenset({"DRAFT", "SUBMITTED", "AUTHORISED"}),
    "HasErrors",
    (*_COMMON_TEXT, "Url"),
    ("Date", "DueDate", "ExpectedPaymentDate", "PlannedPaymentDate"),
)
CREDIT_NOTE = DocumentKind(
    "Credit note",
    "CreditNoteID",
    "CreditNoteNumber",
    "credit_notes",
    ("ACCPAYCREDIT", "ACCRECCREDIT"),
    frozenset({"DRAFT", "SUBMITTED", "AUTHORISED"}),
    "HasErrors",
    _COMMON_TEXT,
    ("Date", "DueDate"),
)
PURCHASE_ORDER = DocumentKind(
    "Purchase order",
    "PurchaseOrderID",
    "PurchaseOrderNumber",
    "purchase_orders",
    (),
    frozenset({"DRAFT", "SUBMITTED", "AUTHORISED", "BILLED"}),
    None,
    (*_COMMON_TEXT, "DeliveryAddress", "AttentionTo", "Telephone", "DeliveryInstructions"),
    ("Date", "DeliveryDate", "ExpectedArrivalDate"),
)
_PAYABLE_TYPES = {"ACCPAY", "ACCPAYCREDIT"}
_EDITABLE_STATUSES = {"DRAFT", "SUBMITTED", "AUTHORISED", "BILLED"}
_PO_STATUSES = {"DRAFT", "SUBMITTED", "AUTHORISED", "BILLED", "DELETED"}
_IGNORED_ON_COMPARE = {"UpdatedDateUTC"}


def _status_problem(kind: DocumentKind, old: str | None, new: str, has_payments: bool) -> str | None:
    """Why ``old → new`` is not allowed, or None when it is."""
    if old is None:
        if new not in kind.create_statuses:
            return f"{kind.label} status cannot be {new} when it is created."
        return None
    if old == new:
        return None
    if kind is PURCHASE_ORDER:
        if old == "DELETED":
            return "A deleted purchase order cannot be changed."
        return None if new in _PO_STATUSES else f"'{new}' is not a valid purchase order status."
    allowed = {
        "DRAFT": {"SUBMITTED", "AUTHORISED", "DELETED"},
        "SUBMITTED": {"DRAFT", "AUTHORISED", "DELETED"},
        "AUTHORISED": {"VOIDED"},
    }.get(old, set())
    if new == "VOIDED" and old == "AUTHORISED" and has_payments:
        return f"This {kind.label.lower()} has payments and cannot be voided; delete the payments first."
    if new == "DELETED" and old == "AUTHORISED":
        return f"An AUTHORISED {kind.label.lower()} cannot be deleted; void it instead."
    if new not in allowed:
        return f"{kind.label} status cannot be changed from {old} to {new}."
    return None


def _taken_numbers(state: XeroState, kind: DocumentKind, own_id: str | None, doc_type: str | None) -> set[str]:
    return {
        str(doc.get(kind.number_key)).casefold()
        for doc_id, doc in getattr(state, kind.store).items()
        if doc_id != own_id
        and doc.get(kind.number_key)
        and doc["Status"] != "DELETED"
        and (kind is PURCHASE_ORDER or doc.get("Type") == doc_type)
    }


def _apply_scalars(kind: DocumentKind, candidate: Record, element: Record, problems: Problems) -> None:
    for name in kind.text_fields:
        if element.get(name) is not None:
            candidate[name] = str(element[name])
    for name in kind.date_fields:
        if element.get(name) is not None:
            try:
                candidate[name] = parse_date(element[name], name)
            except BadValue as exc:
                problems.add(str(exc))
    if element.get("CurrencyRate") is not None:
        try:
            candidate["CurrencyRate"] = parse_decimal(element["CurrencyRate"], "CurrencyRate")
        except BadValue as exc:
            problems.add(str(exc))
    if isinstance(element.get("SentToContact"), bool):
        candidate["SentToContact"] = element["SentToContact"]
    if element.get(kind.number_key) is not None:
        candidate[kind.number_key] = str(element[kind.number_key]).strip()
    if element.get("Type") is not None and kind.types:
        candidate["Type"] = str(element["Type"])
    if element.get("LineAmountTypes") is not None:
        candidate["LineAmountTypes"] = str(element["LineAmountTypes"])


def _number_rules(state: XeroState, kind: DocumentKind, candidate: Record, problems: Problems) -> None:
    doc_type = candidate.get("Type")
    own_id = candidate[kind.id_key]
    auto_prefix = {"ACCREC": "INV", "ACCRECCREDIT": "CN"}.get(str(doc_type)) if kind.types else "PO"
    if auto_prefix is None:
        return  # supplier documents: the supplier's number, free text, not unique
    taken = _taken_numbers(state, kind, own_id, doc_type)
    number = candidate.get(kind.number_key)
    if not number:
        candidate[kind.number_key] = state.next_number(auto_prefix, taken)
    elif number.casefold() in taken:
        problems.add("Order number must be unique" if kind is PURCHASE_ORDER else f"{kind.label} # must be unique.")


def upsert_document(
    state: XeroState, kind: DocumentKind, element: Record, *, allow_update: bool, force_id: str | None = None
) -> Record:
    """Create or update one document; raises :class:`ElementInvalid` with every problem found."""
    store: dict[str, Record] = getattr(state, kind.store)
    doc_id = force_id or normalise_id(element.get(kind.id_key))
    existing = store.get(doc_id) if doc_id else None
    if doc_id and existing is None:
        raise ElementInvalid(
            [f"{kind.label} with {kind.id_key} {element.get(kind.id_key) or doc_id} could not be found."]
        )
    if existing is not None and not allow_update:
        raise ElementInvalid([f"{kind.label}s cannot be updated with PUT; use POST."])
    problems = Problems()
    candidate: Record = (
        dict(existing)
        if existing
        else {
            kind.id_key: new_id(),
            "Status": "DRAFT",
            "LineAmountTypes": "Exclusive",
            "CurrencyCode": "AUD",
            "CurrencyRate": Decimal(1),
            "Date": state.today(),
            "LineItems": [],
            "_payments": [],
            "_created_by_api": True,
        }
    )
    _apply_scalars(kind, candidate, element, problems)
    new_status = str(element["Status"]) if element.get("Status") is not None else candidate["Status"]
    has_payments = bool(existing and existing.get("_payments"))
    if existing is not None and existing["Status"] == "PAID" and new_status in {"PAID", "AUTHORISED"}:
        new_status = "PAID"
    elif message := _status_problem(kind, existing["Status"] if existing else None, new_status, has_payments):
        problems.add(message)
    if existing is not None and existing["Status"] in {"DELETED", "VOIDED"} and new_status == existing["Status"]:
        problems.add(f"{kind.label} not of valid status for modification ({existing['Status']}).")
    candidate["Status"] = new_status
    if kind.types and candidate.get("Type") not in kind.types:
        problems.add(f"{kind.label} Type must be one of {', '.join(kind.types)}.")
    if candidate["LineAmountTypes"] not in LINE_AMOUNT_TYPES:
        problems.add(f"'{candidate['LineAmountTypes']}' is not a valid LineAmountTypes value.")

    contact = None
    if existing is None or "Contact" in element:
        contact = resolve_contact(state, element.get("Contact"), problems)
    if existing is None or "LineItems" in element:
        payable = kind is PURCHASE_ORDER or candidate.get("Type") in _PAYABLE_TYPES
        known = {line["LineItemID"] for line in (existing or {}).get("LineItems", [])}
        lines = element.get("LineItems") or []
        candidate["LineItems"] = [
            build_line(
                state,
                raw,
                amount_types=candidate["LineAmountTypes"],
                default_tax_type="INPUT" if payable else "OUTPUT",
                known_line_ids=known,
                require_account=new_status in {"SUBMITTED", "AUTHORISED"} and kind is not PURCHASE_ORDER,
                problems=problems,
            )
            for raw in (lines if isinstance(lines, list) else [])
        ]
    if new_status in {"SUBMITTED", "AUTHORISED"} and not candidate["LineItems"] and kind is not PURCHASE_ORDER:
        problems.add(f"A {kind.label.lower()} must have at least one line item before it is approved.")
    _number_rules(state, kind, candidate, problems)
    candidate.update(document_totals(candidate["LineItems"], candidate["LineAmountTypes"]))
    if candidate["Total"] < 0 and new_status not in {"DELETED", "VOIDED"}:
        problems.add(f"The {kind.label.lower()} total must not be negative.")
    if has_payments and _differs(existing, candidate):
        problems.add("This document cannot be edited as it has a payment or credit note allocated to it.")
    problems.raise_if_any()

    if contact is None and (existing is None or "Contact" in element):
        contact = ensure_contact(state, element["Contact"], None)
    if contact is not None:
        candidate["_contact_id"] = contact["ContactID"]
        _mark_contact_role(state, contact, kind, candidate)
        _default_due_date(candidate, contact, element)
    recompute_balances(state, kind, candidate)
    candidate["UpdatedDateUTC"] = state.stamp()
    store[candidate[kind.id_key]] = candidate
    state.changed()
    return candidate


def _differs(existing: Record | None, candidate: Record) -> bool:
    if existing is None:
        return True
    keys = (set(existing) | set(candidate)) - _IGNORED_ON_COMPARE
    return any(_comparable(existing.get(k)) != _comparable(candidate.get(k)) for k in keys)


def _comparable(value: Any) -> Any:
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items() if k != "LineItemID"}
    return value


def _mark_contact_role(state: XeroState, contact: Record, kind: DocumentKind, doc: Record) -> None:
    role = "IsSupplier" if kind is PURCHASE_ORDER or doc.get("Type") in _PAYABLE_TYPES else "IsCustomer"
    if not contact.get(role):
        contact[role] = True  # Xero flips these without moving UpdatedDateUTC


def _default_due_date(doc: Record, contact: Record, element: Record) -> None:
    if doc.get("Type") != "ACCPAY" or doc.get("DueDate") or element.get("DueDate"):
        return
    terms = (contact.get("PaymentTerms") or {}).get("Bills") or {}
    if terms.get("Type") == "DAYSAFTERBILLDATE" and terms.get("Day") is not None:
        doc["DueDate"] = doc["Date"] + timedelta(days=int(terms["Day"]))


def recompute_balances(state: XeroState, kind: DocumentKind, doc: Record) -> None:
    """AmountPaid/AmountDue (or RemainingCredit) and the PAID ⇄ AUTHORISED transition."""
    if kind is PURCHASE_ORDER:
        return
    live = [state.payments[pid] for pid in doc.get("_payments", []) if state.payments[pid]["Status"] == "AUTHORISED"]
    paid = sum((payment["Amount"] for payment in live), ZERO)
    outstanding = doc["Total"] - paid - doc.get("AmountCredited", ZERO)
    if kind is INVOICE:
        doc["AmountPaid"] = paid
        doc["AmountCredited"] = doc.get("AmountCredited", ZERO)
        doc["AmountDue"] = outstanding
    else:
        doc["RemainingCredit"] = outstanding
    if doc["Status"] == "AUTHORISED" and outstanding <= 0 and doc["Total"] >= 0:
        doc["Status"] = "PAID"
        doc["FullyPaidOnDate"] = max((payment["Date"] for payment in live), default=doc["Date"])
    elif doc["Status"] == "PAID" and outstanding > 0:
        doc["Status"] = "AUTHORISED"
        doc.pop("FullyPaidOnDate", None)


def find_document(state: XeroState, kind: DocumentKind, key: str) -> Record | None:
    """A document by its ID, or else by its number (both work in Xero's URLs)."""
    store: dict[str, Record] = getattr(state, kind.store)
    found = store.get(normalise_id(key))
    if found is not None:
        return found
    return next((doc for doc in store.values() if doc.get(kind.number_key) == key), None)


def present_document(state: XeroState, kind: DocumentKind, doc: Record, *, with_lines: bool = True) -> Record:
    """A document as the API returns it: contact summary, lines with tracking names, payments."""
    view = {key: value for key, value in doc.items() if not key.startswith("_")}
    contact = state.contacts.get(doc.get("_contact_id", ""))
    if contact is not None:
        view["Contact"] = contact_summary(contact)
    if with_lines:
        view["LineItems"] = present_lines(state, doc["LineItems"])
    else:
        view.pop("LineItems", None)
    view["HasAttachments"] = bool(doc.get("_attachments"))
    if kind is not PURCHASE_ORDER:
        view["HasErrors"] = False
        view["Payments"] = [
            payment_summary(state.payments[pid])
            for pid in doc.get("_payments", [])
            if state.payments[pid]["Status"] == "AUTHORISED"
        ]
    if kind is INVOICE:
        view.update({"IsDiscounted": "TotalDiscount" in doc, "Prepayments": [], "Overpayments": [], "CreditNotes": []})
    if kind is CREDIT_NOTE:
        view["Allocations"] = []
    return view


def payment_summary(payment: Record) -> Record:
    """How a payment appears inside the document it pays."""
    return {
        "PaymentID": payment["PaymentID"],
        "Date": payment["Date"],
        "Amount": payment["Amount"],
        "CurrencyRate": payment.get("CurrencyRate"),
        "Reference": payment.get("Reference"),
        "HasAccount": True,
        "HasValidationErrors": False,
    }
