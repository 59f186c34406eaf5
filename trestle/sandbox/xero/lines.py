"""Line items and document totals: the money maths shared by invoices, credit notes and POs.

All arithmetic is ``Decimal``. A line's ``LineAmount`` is ``Quantity × UnitAmount`` less any
discount, rounded half-up to cents. Tax per line comes from the line's TaxType rate and the
document's ``LineAmountTypes``: *Exclusive* adds tax on top, *Inclusive* carves it out of the
line amount, *NoTax* has none. ``SubTotal`` excludes tax, ``Total = SubTotal + TotalTax``.
A ``TaxAmount`` sent by the client overrides the computed one, as Xero allows.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from trestle.sandbox.xero.state import Problems, Record, XeroState, new_id, normalise_id
from trestle.sandbox.xero.tracking import present_line_tracking, resolve_line_tracking
from trestle.sandbox.xero.wire import BadValue, money, parse_decimal

LINE_AMOUNT_TYPES = ("Exclusive", "Inclusive", "NoTax")
_QUANTITY_PLACES = Decimal("0.0001")
ZERO = Decimal("0.00")


def _decimal_or_none(raw: Record, name: str, problems: Problems) -> Decimal | None:
    if raw.get(name) is None:
        return None
    try:
        return parse_decimal(raw[name], name)
    except BadValue as exc:
        problems.add(str(exc))
        return None


def _line_account(state: XeroState, raw: Record, problems: Problems) -> Record | None:
    if raw.get("AccountCode"):
        account = state.account_by_code(str(raw["AccountCode"]))
        if account is None:
            problems.add(f"Account code '{raw['AccountCode']}' is not a valid code for this document.")
        return account
    if raw.get("AccountID"):
        account = state.accounts.get(normalise_id(raw["AccountID"]))
        if account is None or account["Status"] != "ACTIVE":
            problems.add(f"Account ID '{raw['AccountID']}' is not a valid account for this document.")
            return None
        return account
    return None


def build_line(
    state: XeroState,
    raw: Any,
    *,
    amount_types: str,
    default_tax_type: str,
    known_line_ids: set[str],
    require_account: bool,
    problems: Problems,
) -> Record:
    """Validate one sent line and compute its amounts (problems are collected, not raised)."""
    if not isinstance(raw, dict):
        problems.add("Each line item must be an object.")
        return {}
    quantity = _decimal_or_none(raw, "Quantity", problems)
    unit_amount = _decimal_or_none(raw, "UnitAmount", problems)
    sent_line_amount = _decimal_or_none(raw, "LineAmount", problems)
    discount_rate = _decimal_or_none(raw, "DiscountRate", problems)
    discount_amount = _decimal_or_none(raw, "DiscountAmount", problems)
    sent_tax = _decimal_or_none(raw, "TaxAmount", problems)
    quantity = (quantity if quantity is not None else Decimal(1)).quantize(_QUANTITY_PLACES)
    if unit_amount is None:
        unit_amount = (sent_line_amount / quantity) if sent_line_amount is not None and quantity else Decimal(0)
    gross = quantity * unit_amount
    if discount_rate is not None:
        gross = gross * (Decimal(100) - discount_rate) / Decimal(100)
    elif discount_amount is not None:
        gross -= discount_amount
    line_amount = money(gross)

    account = _line_account(state, raw, problems)
    if account is None and require_account and not raw.get("AccountCode") and not raw.get("AccountID"):
        problems.add("Account code must be specified on every line of an approved document.")
    tax_type = str(raw.get("TaxType") or (account or {}).get("TaxType") or default_tax_type)
    if amount_types == "NoTax" and not raw.get("TaxType"):
        tax_type = "BASEXCLUDED"
    rate_record = state.tax_rates.get(tax_type)
    if rate_record is None or rate_record["Status"] != "ACTIVE":
        problems.add(f"The TaxType code '{tax_type}' does not exist or cannot be used for this type of transaction.")
        rate = Decimal(0)
    else:
        rate = rate_record["EffectiveRate"] / Decimal(100)
    if amount_types == "NoTax":
        tax = ZERO
    elif sent_tax is not None:
        tax = money(sent_tax)
    elif amount_types == "Inclusive":
        tax = money(line_amount - line_amount / (Decimal(1) + rate))
    else:
        tax = money(line_amount * rate)

    line_id = normalise_id(raw.get("LineItemID"))
    line: Record = {
        "LineItemID": line_id if line_id in known_line_ids else new_id(),
        "Description": str(raw["Description"]) if raw.get("Description") is not None else None,
        "Quantity": quantity,
        "UnitAmount": unit_amount,
        "ItemCode": str(raw["ItemCode"]) if raw.get("ItemCode") else None,
        "AccountCode": account["Code"] if account else None,
        "AccountID": account["AccountID"] if account else None,
        "TaxType": tax_type,
        "TaxAmount": tax,
        "LineAmount": line_amount,
        "DiscountRate": discount_rate,
        "DiscountAmount": discount_amount,
        "Tracking": resolve_line_tracking(state, raw.get("Tracking"), problems),
    }
    return line


def document_totals(lines: list[Record], amount_types: str) -> Record:
    """SubTotal, TotalTax, Total (and TotalDiscount when any line is discounted)."""
    line_sum = sum((line["LineAmount"] for line in lines), ZERO)
    total_tax = sum((line["TaxAmount"] for line in lines), ZERO)
    subtotal = line_sum - total_tax if amount_types == "Inclusive" else line_sum
    discount = ZERO
    for line in lines:
        if line.get("DiscountRate") is not None or line.get("DiscountAmount") is not None:
            discount += money(line["Quantity"] * line["UnitAmount"]) - line["LineAmount"]
    totals: Record = {"SubTotal": money(subtotal), "TotalTax": money(total_tax), "Total": money(subtotal + total_tax)}
    if discount:
        totals["TotalDiscount"] = money(discount)
    return totals


def present_lines(state: XeroState, lines: list[Record]) -> list[Record]:
    """Lines as the API shows them (tracking with current names)."""
    return [line | {"Tracking": present_line_tracking(state, line.get("Tracking", []))} for line in lines]
