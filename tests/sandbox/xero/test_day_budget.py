"""The control-plane day budget: Xero's daily limit reached after a chosen number of calls."""

from __future__ import annotations

import httpx

from tests.sandbox.xero.conftest import XeroSandbox


def test_day_budget_runs_out_then_answers_429_day_until_cleared(xero: XeroSandbox, api: httpx.Client) -> None:
    xero.control("rate-limits/day", {"day_remaining": 2})  # limits are off: the budget applies anyway
    first, second = api.get("/Organisation"), api.get("/Organisation")
    assert (first.status_code, second.status_code) == (200, 200)
    assert (first.headers["X-DayLimit-Remaining"], second.headers["X-DayLimit-Remaining"]) == ("1", "0")
    refused = api.get("/Organisation")
    assert refused.status_code == 429
    assert refused.headers["X-Rate-Limit-Problem"] == "day"
    assert int(refused.headers["Retry-After"]) > 60
    xero.control("rate-limits/day", {"day_remaining": None})
    assert api.get("/Organisation").status_code == 200


def test_a_sandbox_reset_clears_the_day_budget(xero: XeroSandbox, api: httpx.Client) -> None:
    xero.control("rate-limits/day", {"day_remaining": 0})
    assert api.get("/Organisation").status_code == 429
    xero.control("reset", {})
    assert api.get("/Organisation").status_code == 200
