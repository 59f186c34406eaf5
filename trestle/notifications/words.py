"""Facts turned into the words an accountant reads: field names, values, times, API budgets.

Internal names (``business_id``, ``LineAmountTypes``, ``purchase_order.origin_id``) never reach
a summary: :func:`field_words` names each mapped field as the README's tables describe it, and
falls back on the name split into lower-case words for a field nobody named.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from trestle.models.unreadable import FieldProblem
from trestle.timeutil import to_utc

XERO_DAY_LIMIT = 5000
"""Calls Xero allows one app per organisation in a rolling day (Xero's documented limit)."""

LINK_FIELDS = frozenset({"origin_id", "origin_data"})
"""Fields that only hold Trestle's link between the two records: shown as "linked", never as values."""

FIELD_WORDS: dict[str, str] = {
    # Procore vendors, projects, payments and direct costs
    "name": "name",
    "origin_code": "Xero contact number",
    "address": "address",
    "city": "city",
    "zip": "postcode",
    "country_code": "country",
    "state_code": "state",
    "business_phone": "phone",
    "email_address": "email",
    "business_id": "ABN / tax number",
    "amount": "amount",
    "contract_id": "commitment",
    "date": "date",
    "invoice_date": "invoice date",
    "invoice_number": "invoice number",
    "notes": "notes",
    "payment_method": "payment method",
    "payment_number": "payment number",
    "project_id": "project",
    "requisition_id": "progress claim",
    "cost_code_id": "cost code",
    "description": "description",
    "direct_cost_date": "date",
    "direct_cost_type": "type",
    "line_items": "lines",
    "payment_date": "payment date",
    "status": "status",
    "vendor_id": "vendor",
    # Xero contacts, purchase orders, bills and credit notes
    "Name": "name",
    "EmailAddress": "email",
    "TaxNumber": "ABN / tax number",
    "Contact": "supplier",
    "LineAmountTypes": "amounts are",
    "LineItems": "lines",
    "Reference": "reference",
    "Date": "date",
    "DueDate": "due date",
    "DeliveryDate": "delivery date",
    "Status": "status",
    "Type": "type",
    "Tracking": "project and cost code",
    "AccountCode": "account",
    "Description": "description",
    "Quantity": "quantity",
    "UnitAmount": "unit price",
    "Total": "total",
    "InvoiceNumber": "invoice number",
}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_INDEX = re.compile(r"\[\d+\]")


def field_words(field: str) -> str:
    """``business_id`` → ``ABN / tax number``; ``purchase_order.amount`` → ``amount``."""
    name = field.rpartition(".")[2]
    if name in FIELD_WORDS:
        return FIELD_WORDS[name]
    return _CAMEL.sub(" ", name).replace("_", " ").lower()


def is_link_field(field: str) -> bool:
    """Whether ``field`` is one of Trestle's link fields (``origin_id``), not something a person typed."""
    return field.rpartition(".")[2] in LINK_FIELDS


def show_value(value: Any) -> str:
    """A field value as a bookkeeper reads it: money and text as given, nothing as ``(empty)``,
    a list of document lines as their count."""
    if value is None or value == "" or value == [] or value == {}:
        return "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal | int | float | str):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, list | tuple):
        if all(isinstance(item, dict) for item in value):
            return f"{len(value)} line{'' if len(value) == 1 else 's'}"
        return ", ".join(show_value(item) for item in value)
    if isinstance(value, dict):
        shown = [f"{field_words(k)} {show_value(v)}" for k, v in value.items() if not is_link_field(k)]
        return "; ".join(shown) or "(linked record)"
    return str(value)


def zone(name: str | None) -> ZoneInfo:
    """The configured time zone, UTC when none (or an unknown one) is given."""
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def show_time(moment: datetime | None, tz: ZoneInfo | None = None) -> str:
    """A timestamp to the minute in ``tz`` with its abbreviation (``2025-03-04 13:00 AEDT``)."""
    if moment is None:
        return "–"
    local = to_utc(moment).astimezone(tz or UTC)
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or "")


def budget_words(system: str, remaining: dict[str, Any], tz: ZoneInfo | None = None) -> str | None:
    """The budget a system reported, in a sentence: "Xero: 4,870 of 5,000 calls left today"
    (None when it reported nothing this function understands)."""
    if system == "xero":
        if remaining.get("day") is not None:
            return f"Xero: {int(remaining['day']):,} of {XERO_DAY_LIMIT:,} calls left today"
        if remaining.get("minute") is not None:
            return f"Xero: {int(remaining['minute']):,} calls left this minute"
        return None
    if system == "procore" and remaining.get("remaining") is not None:
        left = f"{int(remaining['remaining']):,}"
        if remaining.get("limit") is not None:
            left += f" of {int(remaining['limit']):,}"
        text = f"Procore: {left} calls left"
        if remaining.get("reset") is not None:
            reset = datetime.fromtimestamp(int(remaining["reset"]), UTC)
            text += f" until {show_time(reset, tz)}"
        return text
    return None


def unreadable_words(system: str, problems: Sequence[FieldProblem]) -> str:
    """The review message of a record with values Trestle cannot read: each field, what it expected
    and what came (never the text itself, see :mod:`trestle.models.unreadable`), and what happens next."""
    listed = "; ".join(
        f"{field_words(_INDEX.sub('', problem.field))} ({problem.field}): expected {problem.expected}, "
        f"found {problem.found}"
        for problem in problems
    )
    return (
        f"{system} sent this record with {'a value' if len(problems) == 1 else 'values'} Trestle cannot read: "
        f"{listed}. Nothing was sent for it; it is read again every run until {system} sends a readable value."
    )
