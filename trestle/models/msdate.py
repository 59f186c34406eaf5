"""Microsoft JSON dates as Xero sends them: ``/Date(1541176290160+0000)/``.

Xero writes entity dates as milliseconds since the epoch with an optional ``±hhmm`` offset.
Negative epochs (before 1970) and non-UTC offsets (``+1300``) occur in real payloads, so the
parser accepts both; the offset says which local time the value was recorded in, the epoch is
always UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone

from trestle.timeutil import to_utc

_MS_DATE = re.compile(r"^\\?/Date\((?P<ms>-?\d+)(?P<offset>[+-]\d{4})?\)\\?/$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def is_ms_date(value: object) -> bool:
    """Whether ``value`` is a string in ``/Date(...)/`` form."""
    return isinstance(value, str) and bool(_MS_DATE.match(value))


def parse_ms_datetime(value: str) -> datetime:
    """Parse ``/Date(ms[±hhmm])/`` into an aware datetime in the offset it carries (UTC if none)."""
    match = _MS_DATE.match(value.strip())
    if not match:
        raise ValueError(f"not a /Date()/ value: {value!r}")
    offset = match["offset"]
    sign = 1 if offset and offset[0] == "+" else -1
    try:
        instant = _EPOCH + timedelta(milliseconds=int(match["ms"]))
        if not offset:
            return instant
        delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])) * sign
        return instant.astimezone(timezone(delta))
    except (OverflowError, ValueError):  # beyond year 1..9999, or an offset of a day or more
        raise ValueError(f"/Date()/ value out of range: {value!r}") from None


def parse_ms_date(value: str) -> date:
    """Parse a date-only ``/Date()/`` field (``Date``, ``DueDate``) into its calendar date.

    Xero stores date-only fields as midnight in the offset it sends, so the calendar date is
    read in that offset, not converted to UTC first.
    """
    return parse_ms_datetime(value).date()


def format_ms_datetime(value: datetime, *, with_offset: bool = True) -> str:
    """Format an aware (or UTC-naive) datetime as ``/Date(ms+0000)/``."""
    ms = (to_utc(value) - _EPOCH) // timedelta(milliseconds=1)
    return f"/Date({ms}+0000)/" if with_offset else f"/Date({ms})/"


def format_ms_date(value: date) -> str:
    """Format a calendar date as Xero does: midnight UTC with ``+0000``."""
    return format_ms_datetime(datetime.combine(value, time(0), tzinfo=UTC))


def parse_any_xero_date(value: str) -> datetime:
    """Parse what Xero accepts in request bodies: ``/Date()/``, ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM:SS``."""
    if is_ms_date(value):
        return parse_ms_datetime(value)
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
