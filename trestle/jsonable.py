"""Trestle's one rule for Decimal (and dates) in JSON.

Money is :class:`~decimal.Decimal` everywhere inside Trestle. JSON has only one kind of number,
which every reader here (Xero, Procore, Python's ``json``) takes as a binary float, so a Decimal
becomes a JSON number only when that float reads back as exactly the same value
(:func:`exact_number`). On the wire an amount that would not is refused, never rounded; in
what Trestle stores for itself (payloads, fingerprints, issue details) it is kept as a string.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any


def exact_number(value: Decimal) -> float:
    """``value`` as the float that JSON carries; ValueError if that float is not exactly ``value``."""
    number = float(value)
    if Decimal(repr(number)) != value:
        raise ValueError(f"{value} cannot be sent as an exact JSON number")
    return number


def jsonable(value: Any) -> Any:
    """A JSON-safe copy: exact Decimals → numbers (others → strings), dates → ISO strings."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, Decimal):
        try:
            return exact_number(value)
        except ValueError:
            return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
