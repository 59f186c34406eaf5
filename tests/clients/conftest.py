"""Scripted HTTP exchanges for the client tests (httpx.MockTransport, official wire formats)."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

Handler = Callable[[httpx.Request], httpx.Response]

XERO_TENANT = "7a1b3c4d-0000-4000-8000-00000000c0de"
PROCORE_COMPANY = 598134325841112


def xero_json(payload: Any, status: int = 200, **headers: str) -> httpx.Response:
    """A Xero-style JSON response with the usual rate-limit headers."""
    base = {"X-MinLimit-Remaining": "58", "X-DayLimit-Remaining": "4990", "X-AppMinLimit-Remaining": "9990"}
    body = json.dumps(payload, default=lambda value: float(value) if isinstance(value, Decimal) else str(value))
    return httpx.Response(
        status,
        content=body.encode(),
        headers={"Content-Type": "application/json; charset=utf-8", **base, **headers},
    )


def envelope(key: str, items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """Xero's response envelope."""
    return {
        "Id": "e1a2b3c4-0000-4000-8000-000000000001",
        "Status": "OK",
        "ProviderName": "Trestle tests",
        "DateTimeUTC": "/Date(1551399323399)/",
        key: items,
        **extra,
    }


class Recorder:
    """A MockTransport that answers from a handler and keeps every request it saw."""

    def __init__(self, handler: Handler) -> None:
        self.requests: list[httpx.Request] = []
        self._handler = handler
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self._handler(request)

    def to(self, path_part: str) -> list[httpx.Request]:
        """Requests whose path contains ``path_part``."""
        return [request for request in self.requests if path_part in request.url.path]


class Sleeps:
    """An injectable ``sleep`` that records instead of waiting, and a clock it advances."""

    def __init__(self) -> None:
        self.calls: list[float] = []
        self.now = 1000.0

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def sleeps() -> Sleeps:
    """Recorded sleeps with a fake clock."""
    return Sleeps()
