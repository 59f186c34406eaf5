"""Reading lists the way Xero does: If-Modified-Since, ``where``, list params, ``order``, paging.

``If-Modified-Since`` keeps rows whose ``UpdatedDateUTC``, truncated to the second, is later
than the header; it accepts ISO-8601 (with or without offset, read as UTC when none) and
RFC 1123. Paging is 1-based with ``pageSize`` defaulting to 100 and capped at 1000; without
``page`` every row comes back (the old unpaged behaviour) and no ``pagination`` is sent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from fastapi import Request

from trestle.sandbox.xero.state import Record
from trestle.sandbox.xero.where import WhereError, comparable, compile_where

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


class QueryError(ValueError):
    """A query parameter or header that cannot be understood (becomes a 400)."""


@dataclass
class Page:
    """One page of results, and the ``pagination`` block when the request paged."""

    items: list[Record]
    pagination: dict[str, int] | None


def parse_if_modified_since(value: str | None) -> datetime | None:
    """Read the ``If-Modified-Since`` header (ISO-8601 or RFC 1123) as an aware UTC datetime."""
    if not value:
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError) as exc:
            raise QueryError(f"If-Modified-Since header is not a valid date: {value!r}") from exc
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def modified_since(records: Iterable[Record], since: datetime | None) -> list[Record]:
    """Rows changed after ``since`` (one-second precision, as Xero compares)."""
    if since is None:
        return list(records)
    cutoff = since.replace(microsecond=0)
    return [
        record
        for record in records
        if record.get("UpdatedDateUTC") is not None and record["UpdatedDateUTC"].replace(microsecond=0) > cutoff
    ]


def apply_where(records: list[Record], where: str | None) -> list[Record]:
    """Filter with a ``where`` expression (raises :class:`QueryError` when it does not parse)."""
    if not where or not where.strip():
        return records
    try:
        predicate = compile_where(where)
    except WhereError as exc:
        raise QueryError(f"The where clause could not be parsed: {exc}") from exc
    return [record for record in records if predicate(record)]


def list_param(request: Request, name: str) -> list[str]:
    """A comma-joined list parameter (``IDs``, ``Statuses``…), matched case-insensitively by name."""
    for key, value in request.query_params.multi_items():
        if key.lower() == name.lower() and value:
            return [part.strip() for part in value.split(",") if part.strip()]
    return []


def flag(request: Request, name: str) -> bool:
    """A boolean query parameter (``True``/``true``/``1``)."""
    for key, value in request.query_params.items():
        if key.lower() == name.lower():
            return value.strip().lower() in {"true", "1", "yes"}
    return False


def param(request: Request, name: str) -> str | None:
    """A query parameter matched case-insensitively by name."""
    for key, value in request.query_params.items():
        if key.lower() == name.lower():
            return value
    return None


def apply_order(records: list[Record], order: str | None) -> list[Record]:
    """Sort by ``order`` (``Name``, ``UpdatedDateUTC DESC``, comma-separated keys)."""
    if not order or not order.strip():
        return records
    ordered = list(records)
    for clause in reversed([part.strip() for part in order.split(",") if part.strip()]):
        words = clause.split()
        if len(words) > 2 or (len(words) == 2 and words[1].upper() not in {"ASC", "DESC"}):
            raise QueryError(f"The order clause could not be parsed: {clause!r}")
        path = words[0].split(".")
        descending = len(words) == 2 and words[1].upper() == "DESC"

        def key(record: Record, path: list[str] = path) -> tuple[int, Any]:
            value: Any = record
            for part in path:
                value = value.get(part) if isinstance(value, dict) else None
            value = comparable(value)
            return (0, value) if value is not None else (1, 0)

        present = [r for r in ordered if key(r)[0] == 0]
        missing = [r for r in ordered if key(r)[0] == 1]
        try:
            present.sort(key=key, reverse=descending)
        except TypeError as exc:
            raise QueryError(f"Cannot order by {words[0]}") from exc
        ordered = present + missing
    return ordered


def paginate(request: Request, records: list[Record], *, pageable: bool) -> Page:
    """Cut one page out of ``records`` when the request asked for ``page``."""
    raw_page = param(request, "page")
    if not pageable or raw_page is None:
        return Page(records, None)
    try:
        page = max(1, int(raw_page))
        size_text = param(request, "pageSize")
        page_size = min(MAX_PAGE_SIZE, max(1, int(size_text))) if size_text else DEFAULT_PAGE_SIZE
    except ValueError as exc:
        raise QueryError("page and pageSize must be whole numbers") from exc
    start = (page - 1) * page_size
    return Page(
        records[start : start + page_size],
        {
            "page": page,
            "pageSize": page_size,
            "pageCount": math.ceil(len(records) / page_size),
            "itemCount": len(records),
        },
    )


def run_query(
    request: Request,
    records: Iterable[Record],
    *,
    present: Callable[[Record], Record],
    pre_filter: Callable[[list[Record]], list[Record]] | None = None,
    supports_modified_since: bool = True,
    supports_where: bool = True,
    pageable: bool = True,
) -> Page:
    """The whole read pipeline: IMS → list params → present → where → order → page."""
    rows = list(records)
    if supports_modified_since:
        rows = modified_since(rows, parse_if_modified_since(request.headers.get("if-modified-since")))
    if pre_filter is not None:
        rows = pre_filter(rows)
    where = param(request, "where") if supports_where else None
    order = param(request, "order")
    if not where and not order:  # nothing reads the presented form: page first, present only the page
        page = paginate(request, rows, pageable=pageable)
        return Page([present(row) for row in page.items], page.pagination)
    views = apply_order(apply_where([present(row) for row in rows], where), order)
    return paginate(request, views, pageable=pageable)
