"""Paginators: how to ask for the next page, and when to stop.

A fresh paginator is made for every listing (``RestClient.get_new_paginator()``); it remembers
where it is. ``get_next`` returns either query parameters to merge into the first request's, or
an absolute URL that already carries them (Procore's ``Link`` header).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import httpx


class Paginator(ABC):
    """Walks one listing page by page."""

    def first_params(self) -> dict[str, Any]:
        """Query parameters of the first page."""
        return {}

    @abstractmethod
    def has_more(self, response: httpx.Response, payload: Any, records: list[dict[str, Any]]) -> bool:
        """Whether another page follows the one just read (``payload`` is its decoded body)."""

    @abstractmethod
    def get_next(self, response: httpx.Response) -> dict[str, Any] | str:
        """Parameters (dict) or absolute URL (str) of the next page; only called after :meth:`has_more`."""


class PageNumberPaginator(Paginator):
    """Xero style: ``page`` (1-based) and ``pageSize``; stop on a short page or the last ``pageCount``."""

    def __init__(self, page_size: int) -> None:
        self.page_size = page_size
        self.page = 1

    def first_params(self) -> dict[str, Any]:
        """``page=1`` and the page size."""
        self.page = 1
        return {"page": 1, "pageSize": self.page_size}

    def has_more(self, response: httpx.Response, payload: Any, records: list[dict[str, Any]]) -> bool:
        """More when this page was full and ``pagination.pageCount`` (if sent) is not reached."""
        if len(records) < self.page_size:
            return False
        pagination = payload.get("pagination") if isinstance(payload, dict) else None
        page_count = pagination.get("pageCount") if isinstance(pagination, dict) else None
        return not (isinstance(page_count, int) and self.page >= page_count)

    def get_next(self, response: httpx.Response) -> dict[str, Any]:
        """The next page number."""
        self.page += 1
        return {"page": self.page, "pageSize": self.page_size}


class LinkHeaderPaginator(Paginator):
    """Procore style: follow ``Link: <…>; rel="next"`` until it is absent."""

    def has_more(self, response: httpx.Response, payload: Any, records: list[dict[str, Any]]) -> bool:
        """More while the response links a next page."""
        return "next" in response.links

    def get_next(self, response: httpx.Response) -> str:
        """The absolute URL of the next page."""
        return response.links["next"]["url"]
