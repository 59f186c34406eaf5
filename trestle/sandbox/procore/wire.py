"""Procore wire format: the one place native values become JSON.

Records inside the simulator hold ``Decimal`` money, ``date`` and ``datetime``; Procore v1 sends
money as JSON strings, dates as ``YYYY-MM-DD`` and timestamps as ISO-8601 UTC with ``Z``.
Money is always written with two decimal places (``"250.00"``) so clients see one consistent
form; Procore itself varies (``"250.0"``) and clients must parse strings as decimals either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")


def round_money(value: Decimal) -> Decimal:
    """Round to the cent, half away from zero (Procore's accounting rounding)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Decimal | None) -> str | None:
    """A money amount as Procore sends it: a string with two decimal places."""
    return None if value is None else str(round_money(value))


def timestamp(value: datetime) -> str:
    """An ISO-8601 UTC timestamp with a ``Z`` suffix and whole seconds."""
    return value.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def to_wire(value: Any) -> Any:
    """Turn a record (nested dicts/lists of native values) into JSON-ready values."""
    if isinstance(value, Mapping):
        return {key: to_wire(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_wire(item) for item in value]
    if isinstance(value, Decimal):
        return money(value)
    if isinstance(value, datetime):
        return timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def pick(record: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """The subset of ``record`` a view declares, in the view's order (missing keys become None)."""
    return {name: record.get(name) for name in fields}


def parse_decimal(value: Any) -> Decimal:
    """Read a money or quantity value a client sent as a string or a number."""
    if isinstance(value, bool) or value is None:
        raise ValueError("is not a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError("is not a number") from exc
    if not number.is_finite():
        raise ValueError("is not a number")
    return number


def parse_date(value: Any) -> date:
    """Read a ``YYYY-MM-DD`` date (a full timestamp is accepted and truncated)."""
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError as exc:
        raise ValueError("is not a valid date") from exc


def parse_timestamp(text: str, *, end_of_day: bool = False) -> datetime:
    """Read an ISO-8601 timestamp or a bare date (start of day, or its last second if ``end_of_day``)."""
    text = text.strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
        hour, minute, second = (23, 59, 59) if end_of_day else (0, 0, 0)
        return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "+"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
