"""Payments against invoices and credit notes, and their deletion.

A payment needs an AUTHORISED document, an amount above zero and no larger than what is
outstanding, and an account that is a BANK account or has ``EnablePaymentsToAccount``. Several
payments may pay one document; it turns PAID (with ``FullyPaidOnDate``) when nothing is left
due, and deleting a payment (``{"Status": "DELETED"}``) takes it back to AUTHORISED. Payments
cannot be edited: delete and re-create them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from trestle.sandbox.xero.contacts import contact_summary
from trestle.sandbox.xero.documents import CREDIT_NOTE, INVOICE, DocumentKind, find_document, recompute_balances
from trestle.sandbox.xero.state import ElementInvalid, Problems, Record, XeroState, new_id
from trestle.sandbox.xero.wire import BadValue, money, parse_date, parse_decimal

_PAYMENT_TYPES = {
    "ACCPAY": "ACCPAYPAYMENT",
    "ACCREC": "ACCRECPAYMENT",
    "ACCPAYCREDIT": "APCREDITPAYMENT",
    "ACCRECCREDIT": "ARCREDITPAYMENT",
}
EXCEEDS_MESSAGE = "Payment amount exceeds the amount outstanding on this document."


def _target(state: XeroState, element: Record, problems: Problems) -> tuple[DocumentKind, Record] | None:
    for kind, key in ((INVOICE, "Invoice"), (CREDIT_NOTE, "CreditNote")):
        reference = element.get(key)
        number = element.get(kind.number_key)
        if not isinstance(reference, dict) and not number:
            continue
        reference = reference if isinstance(reference, dict) else {}
        lookup = reference.get(kind.id_key) or reference.get(kind.number_key) or number
        doc = find_document(state, kind, str(lookup)) if lookup else None
        if doc is None:
            problems.add(f"{kind.label} could not be found ({lookup or 'no ID or number sent'}).")
            return None
        return kind, doc
    problems.add("A payment must name the Invoice or CreditNote it pays.")
    return None


def outstanding(kind: DocumentKind, doc: Record) -> Decimal:
    """What is still to pay on ``doc``."""
    amount: Decimal = doc["AmountDue"] if kind is INVOICE else doc["RemainingCredit"]
    return amount


def create_payment(state: XeroState, element: Record) -> Record:
    """Validate and record one payment, updating the document it pays."""
    if element.get("PaymentID"):
        raise ElementInvalid(["Payments cannot be edited; delete the payment and create a new one."])
    problems = Problems()
    target = _target(state, element, problems)
    account_ref = element.get("Account")
    account = state.find_account(account_ref) if isinstance(account_ref, dict) else None
    if account is None:
        problems.add("A valid Account (AccountID or Code) must be specified for the payment.")
    elif account["Type"] != "BANK" and not account.get("EnablePaymentsToAccount"):
        problems.add(
            f"Account {account['Code']} cannot be used for payments: it must be a bank account "
            "or have EnablePaymentsToAccount set."
        )
    amount: Decimal | None = None
    try:
        amount = money(parse_decimal(element.get("Amount"), "Amount"))
    except BadValue as exc:
        problems.add(str(exc))
    paid_on = state.today()
    if element.get("Date") is not None:
        try:
            paid_on = parse_date(element["Date"], "Date")
        except BadValue as exc:
            problems.add(str(exc))
    if target is not None:
        kind, doc = target
        if doc["Status"] != "AUTHORISED":
            problems.add(f"Payments can only be made against AUTHORISED documents; this one is {doc['Status']}.")
        elif amount is not None and amount > outstanding(kind, doc):
            problems.add(EXCEEDS_MESSAGE)
    if amount is not None and amount <= 0:
        problems.add("Payment amount must be greater than zero.")
    problems.raise_if_any()
    assert target is not None and account is not None and amount is not None
    kind, doc = target
    payment: Record = {
        "PaymentID": new_id(),
        "Date": paid_on,
        "Amount": amount,
        "BankAmount": amount,
        "CurrencyRate": Decimal(1),
        "Reference": str(element["Reference"]) if element.get("Reference") is not None else None,
        "IsReconciled": bool(element.get("IsReconciled", False)),
        "Status": "AUTHORISED",
        "PaymentType": _PAYMENT_TYPES[doc["Type"]],
        "_account_id": account["AccountID"],
        "_kind": kind.store,
        "_document_id": doc[kind.id_key],
        "_created_by_api": True,
    }
    state.payments[payment["PaymentID"]] = payment
    doc["_payments"].append(payment["PaymentID"])
    settle(state, payment)
    return payment


def settle(state: XeroState, payment: Record) -> None:
    """Re-derive the paid document's balances and stamp both records."""
    kind = INVOICE if payment["_kind"] == INVOICE.store else CREDIT_NOTE
    doc = getattr(state, kind.store)[payment["_document_id"]]
    recompute_balances(state, kind, doc)
    doc["UpdatedDateUTC"] = state.stamp()
    payment["UpdatedDateUTC"] = state.stamp()
    state.changed()


def delete_payment(state: XeroState, payment: Record, element: Any) -> Record:
    """Apply ``{"Status": "DELETED"}`` to a payment (the only change Xero allows)."""
    status = element.get("Status") if isinstance(element, dict) else None
    if status != "DELETED":
        raise ElementInvalid(["Payments can only be deleted, by sending Status DELETED."])
    if payment["Status"] == "DELETED":
        raise ElementInvalid(["This payment has already been deleted."])
    payment["Status"] = "DELETED"
    settle(state, payment)
    return payment


def present_payment(state: XeroState, payment: Record) -> Record:
    """A payment with summaries of its document and account, as the API returns it."""
    view = {key: value for key, value in payment.items() if not key.startswith("_")}
    kind = INVOICE if payment["_kind"] == INVOICE.store else CREDIT_NOTE
    doc = getattr(state, kind.store)[payment["_document_id"]]
    contact = state.contacts.get(doc.get("_contact_id", ""))
    summary: Record = {
        kind.id_key: doc[kind.id_key],
        kind.number_key: doc.get(kind.number_key),
        "Type": doc["Type"],
        "Contact": contact_summary(contact) if contact else None,
        "LineItems": [],
        "CurrencyCode": doc.get("CurrencyCode"),
        "IsDiscounted": False,
        "HasErrors": False,
    }
    view["Invoice" if kind is INVOICE else "CreditNote"] = summary
    account = state.accounts[payment["_account_id"]]
    view["Account"] = {"AccountID": account["AccountID"], "Code": account["Code"], "Name": account["Name"]}
    view["HasAccount"] = True
    view["HasValidationErrors"] = False
    return view
