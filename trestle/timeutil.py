"""Trestle's one rule for moments in time: aware UTC datetimes, with naive values read as UTC.

SQLite hands back naive datetimes and some APIs send timestamps without an offset; every
comparison, subtraction and stored value goes through :func:`to_utc` so that such values are
never compared with aware ones or mistaken for local time.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current moment as an aware UTC datetime (the default of every timestamp column)."""
    return datetime.now(UTC)


def to_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime: a naive value is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
