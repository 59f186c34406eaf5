"""Xero wire format, in one place: records (native values) to JSON bytes, and request values back.

Internal records are dicts shaped like Xero's JSON (PascalCase keys) holding native values:
``Decimal`` money, ``date`` for date-only fields, aware ``datetime`` for timestamps. On the way
out, ``None`` values and keys starting with ``_`` (simulator bookkeeping) are dropped, dates
become ``/Date(ms+0000)/`` and decimals become JSON numbers with Xero's fixed decimal places
(``46.00``, quantities ``1.0000``). Decimals are written as raw JSON fragments through orjson so
the trailing zeros survive, exactly as Xero prints them.

Responses are always JSON (``application/json; charset=utf-8``), whatever the ``Accept`` header
says: the simulator never answers XML.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import orjson
from fastapi import Response

from trestle.models.msdate import format_ms_date, format_ms_datetime, parse_any_xero_date

PROVIDER_NAME = "Trestle Sandbox"
JSON_MEDIA_TYPE = "application/json; charset=utf-8"
NOT_FOUND_MESSAGE = "The resource you're looking for cannot be found"

# Decimal places per field name; everything else money-like gets 2.
_PLACES: dict[str, int] = {
    "Quantity": 4,
    "Rate": 4,
    "DisplayTaxRate": 4,
    "EffectiveRate": 4,
    "CurrencyRate": 6,
}
CENT = Decimal("0.01")


def money(value: Decimal | int | str) -> Decimal:
    """Round to cents the way Xero does (half up)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def _decimal_fragment(key: str, value: Decimal) -> orjson.Fragment:
    exponent = Decimal(1).scaleb(-_PLACES.get(key, 2))
    return orjson.Fragment(str(value.quantize(exponent, rounding=ROUND_HALF_UP)).encode())


def to_wire(value: Any, key: str = "") -> Any:
    """Turn a native record (or list, or scalar) into orjson-ready wire values."""
    if isinstance(value, Mapping):
        return {
            name: to_wire(item, name) for name, item in value.items() if item is not None and not name.startswith("_")
        }
    if isinstance(value, list | tuple):
        return [to_wire(item, key) for item in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        return _decimal_fragment(key, value)
    if isinstance(value, datetime):
        return format_ms_datetime(value)
    if isinstance(value, date):
        return format_ms_date(value)
    return value


def envelope(plural: str, items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """Xero's response envelope around ``items`` (``pagination`` and friends go in ``extra``)."""
    body: dict[str, Any] = {
        "Id": str(uuid.uuid4()),
        "Status": "OK",
        "ProviderName": PROVIDER_NAME,
        "DateTimeUTC": format_ms_datetime(datetime.now(UTC), with_offset=False),
    }
    body.update(extra)
    body[plural] = items
    return body


def json_response(content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response rendered in Xero's wire format."""
    return Response(
        orjson.dumps(to_wire(content)),
        status_code=status_code,
        media_type=JSON_MEDIA_TYPE,
        headers=dict(headers or {}),
    )


def not_found() -> Response:
    """Xero's 404 for an unknown ID: a plain sentence, not JSON."""
    return Response(NOT_FOUND_MESSAGE, status_code=404, media_type="text/plain; charset=utf-8")


def api_exception(type_name: str, message: str, status_code: int = 400, *, error_number: int = 16) -> Response:
    """A non-validation error body (bad JSON, bad ``where``, idempotency conflict...)."""
    body = {"ErrorNumber": error_number, "Type": type_name, "Message": message}
    return json_response(body, status_code)


def problem(status: int, title: str, detail: str) -> Response:
    """The identity layer's problem document for 401/403 (``Type`` is null, as Xero sends it)."""
    body: dict[str, Any] = {
        "Type": None,
        "Title": title,
        "Status": status,
        "Detail": detail,
        "Instance": str(uuid.uuid4()),
        "Extensions": {},
    }
    return Response(orjson.dumps(body), status_code=status, media_type=JSON_MEDIA_TYPE)


class BadValue(ValueError):
    """A request field that cannot be read (bad date, bad number); becomes a validation error."""


def parse_decimal(value: Any, field: str) -> Decimal:
    """Read a JSON number (or numeric string) as ``Decimal``."""
    if isinstance(value, bool) or value is None:
        raise BadValue(f"{field} must be a number.")
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise BadValue(f"{field} must be a number.") from exc


def parse_date(value: Any, field: str) -> date:
    """Read a request date: ``YYYY-MM-DD``, ``YYYY-MM-DDTHH:MM:SS`` or ``/Date(ms)/``."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value.strip():
        raise BadValue(f"{field} is not a valid date.")
    try:
        parsed = parse_any_xero_date(value.strip())
    except ValueError as exc:
        raise BadValue(f"{field} is not a valid date.") from exc
    return parsed.date()
