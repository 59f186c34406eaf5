"""Pagination, filters and sorting for Procore v1 lists (API_NOTES.md §5–§6).

Pagination: ``page`` (1-based) and ``per_page`` (default 100). The per_page ceiling is capped at
1000: Procore's docs said 10,000 in 2022 and "keep ≤ 2,000" now, so a client that works against
1000 works against either, and a smaller cap exercises paging sooner. Headers: ``Total``,
``Per-Page`` and ``Link`` with absolute URLs — page 1 has next+last, page 2 first+next+last,
page ≥ 3 all four, and the last page drops next.

Filters: ``filters[attr]=v`` and ``filters[attr][]=v`` (array form); unknown filters are ignored;
``created_at``/``updated_at`` take ``start...end`` ranges of ISO-8601 timestamps or dates (a date
end means the whole day). A single timestamp without ``...`` means "at or after"; a single date
means that day.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from .state import ApiError, Record
from .view_tables import requested_view
from .wire import parse_timestamp, to_wire

DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 1000

Filters = dict[str, list[str]]
Matcher = Callable[[Record, list[str]], bool]


def parse_filters(request: Request) -> Filters:
    """``filters[x]`` / ``filters[x][]`` query parameters as ``{"x": [values...]}``."""
    found: Filters = {}
    for key, value in request.query_params.multi_items():
        if not key.startswith("filters[") or "]" not in key:
            continue
        name = key[len("filters[") : key.index("]")]
        found.setdefault(name, []).append(value)
    return found


def _range(values: list[str]) -> tuple[datetime, datetime | None]:
    text = values[0]
    try:
        if "..." in text:
            start, end = text.split("...", 1)
            return parse_timestamp(start), parse_timestamp(end, end_of_day=True)
        if len(text.strip()) == 10:
            return parse_timestamp(text), parse_timestamp(text, end_of_day=True)
        return parse_timestamp(text), None
    except ValueError as exc:
        raise ApiError(400, f"Invalid date range {text!r}: use start...end in ISO-8601") from exc


def match_time(field: str) -> Matcher:
    """A matcher for a ``created_at``/``updated_at`` range filter."""

    def matches(record: Record, values: list[str]) -> bool:
        start, end = _range(values)
        stamp = record.get(field)
        return stamp is not None and stamp >= start and (end is None or stamp <= end)

    return matches


def match_ids(field: str = "id") -> Matcher:
    """A matcher for an integer id filter (one value, a comma list or the array form)."""

    def matches(record: Record, values: list[str]) -> bool:
        wanted: set[int] = set()
        for value in values:
            for part in value.split(","):
                if part.strip():
                    try:
                        wanted.add(int(part))
                    except ValueError as exc:
                        raise ApiError(400, f"filters[{field}] must be integers") from exc
        return record.get(field) in wanted

    return matches


def match_text(field: str) -> Matcher:
    """A matcher for an exact string filter (any of the given values)."""
    return lambda record, values: record.get(field) is not None and str(record.get(field)) in values


#: The filters most v1 financial lists share.
COMMON_MATCHERS: dict[str, Matcher] = {
    "id": match_ids(),
    "origin_id": match_text("origin_id"),
    "created_at": match_time("created_at"),
    "updated_at": match_time("updated_at"),
}


def apply_filters(records: Iterable[Record], filters: Filters, matchers: dict[str, Matcher]) -> list[Record]:
    """The records every supported filter accepts (filters the endpoint does not declare are ignored)."""
    active = [(matchers[name], values) for name, values in filters.items() if name in matchers]
    return [record for record in records if all(match(record, values) for match, values in active)]


def apply_sort(records: list[Record], request: Request, allowed: Iterable[str]) -> list[Record]:
    """Sort by ``sort=a,-b`` over the ``allowed`` keys (default: by id)."""
    ordered = sorted(records, key=lambda record: record["id"])
    spec = request.query_params.get("sort")
    if not spec:
        return ordered
    for part in reversed(spec.split(",")):
        name = part.strip().lstrip("-")
        if name in allowed:
            ordered.sort(key=lambda record: str(record.get(name) or "").lower(), reverse=part.strip()[0] == "-")
    return ordered


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ApiError(400, f"{name} must be an integer") from exc
    return max(1, value)


def link_header(request: Request, page: int, last_page: int, per_page: int) -> str:
    """The ``Link`` header for ``page`` of ``last_page`` (absolute URLs keeping every other param)."""
    rels: list[tuple[str, int]] = []
    if page >= 2:
        rels.append(("first", 1))
    if page >= 3:
        rels.append(("prev", page - 1))
    if page < last_page:
        rels.append(("next", page + 1))
    rels.append(("last", last_page))
    links = []
    for rel, number in rels:
        url = request.url.include_query_params(page=number, per_page=per_page)
        links.append(f'<{url}>; rel="{rel}"')
    return ", ".join(links)


def paginate(
    request: Request, records: list[Record], render: Callable[[Record], Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    """One page of ``records``, rendered and cut to the requested view, with Total/Per-Page/Link headers."""
    per_page = min(_int_param(request, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)
    page = _int_param(request, "page", 1)
    total = len(records)
    last_page = max(1, math.ceil(total / per_page))
    chunk = records[(page - 1) * per_page : page * per_page]
    response_headers = {
        "Total": str(total),
        "Per-Page": str(per_page),
        "Link": link_header(request, page, last_page, per_page),
        **(headers or {}),
    }
    view = requested_view(request)
    return JSONResponse(to_wire([view.apply(render(record)) for record in chunk]), headers=response_headers)
