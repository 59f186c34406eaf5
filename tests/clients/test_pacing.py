"""Pacing before a 429: Xero minute/day budgets, Procore reset windows."""

from __future__ import annotations

import httpx
import pytest

from tests.clients.conftest import PROCORE_COMPANY, XERO_TENANT, Recorder, Sleeps, envelope, xero_json
from trestle.clients import (
    ApiUsage,
    DailyLimitExceeded,
    ProcoreClient,
    StaticTokenAuthenticator,
    XeroClient,
    XeroPacer,
)

ACCOUNTS = envelope("Accounts", [{"AccountID": "a-1", "Code": "200", "Type": "SALES"}])


def xero(recorder: Recorder, sleeps: Sleeps) -> XeroClient:
    return XeroClient(
        api_url="https://api.xero.test",
        tenant_id=XERO_TENANT,
        authenticator=StaticTokenAuthenticator("access-abc"),
        transport=recorder.transport,
        sleep=sleeps,
        monotonic=sleeps.monotonic,
    )


def test_xero_sleeps_before_sending_when_minute_budget_is_spent(sleeps: Sleeps) -> None:
    remaining = iter(["5", "1", "40"])
    recorder = Recorder(lambda request: xero_json(ACCOUNTS, **{"X-MinLimit-Remaining": next(remaining)}))
    client = xero(recorder, sleeps)
    client.accounts()
    sleeps.now += 10
    client.accounts()
    assert sleeps.calls == []
    sleeps.now += 5
    client.accounts()
    # the first call was sent at t=1000; with 1 call left (the reserve) we wait until it leaves the window
    assert sleeps.calls == [45.0]
    assert len(recorder.requests) == 3
    assert client.usage.snapshot()["xero"]["waited_seconds"] == 45.0


def test_xero_own_count_paces_even_without_headers(sleeps: Sleeps) -> None:
    pacer = XeroPacer(minute_limit=3, minute_reserve=0, sleep=sleeps, monotonic=sleeps.monotonic)
    for _ in range(3):
        pacer.before_request("GET", "/Contacts")
        sleeps.now += 1
    pacer.before_request("GET", "/Contacts")
    assert sleeps.calls == [57.0]


def test_xero_day_budget_zero_raises_before_sending(sleeps: Sleeps) -> None:
    recorder = Recorder(lambda request: xero_json(ACCOUNTS, **{"X-DayLimit-Remaining": "0"}))
    client = xero(recorder, sleeps)
    client.accounts()
    with pytest.raises(DailyLimitExceeded):
        client.accounts()
    assert len(recorder.requests) == 1 and sleeps.calls == []


def test_procore_sleeps_until_reset_when_remaining_is_zero(sleeps: Sleeps) -> None:
    reset_at = int(sleeps.now) + 8
    headers = iter(
        [
            {"X-Rate-Limit-Limit": "25", "X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": str(reset_at)},
            {"X-Rate-Limit-Limit": "25", "X-Rate-Limit-Remaining": "24", "X-Rate-Limit-Reset": str(reset_at + 10)},
        ]
    )
    recorder = Recorder(lambda request: httpx.Response(200, json=[], headers=next(headers)))
    usage = ApiUsage()
    client = ProcoreClient(
        api_url="https://api.procore.test",
        company_id=PROCORE_COMPANY,
        authenticator=StaticTokenAuthenticator("access-xyz"),
        transport=recorder.transport,
        usage=usage,
        sleep=sleeps,
        clock=sleeps.monotonic,
    )
    client.tax_codes()
    assert sleeps.calls == []
    client.tax_codes()
    assert sleeps.calls == [8.5]
    assert usage.snapshot()["procore"]["budget"] == {"limit": 25, "remaining": 24, "reset": reset_at + 10}


def test_shared_budget_is_taken_before_each_request_and_its_wait_counted() -> None:
    from trestle.clients.pacing import ApiUsage, NoPacing, SharedBudgetPacer

    order: list[str] = []
    clock = iter([0.0, 2.5, 10.0, 10.0])

    class Inner(NoPacing):
        def before_request(self, method: str, route: str) -> None:
            order.append(f"own {method} {route}")

    usage = ApiUsage()
    pacer = SharedBudgetPacer(
        Inner(), lambda: order.append("shared"), system="xero", usage=usage, monotonic=lambda: next(clock)
    )
    pacer.before_request("GET", "/Contacts")
    pacer.before_request("GET", "/Invoices")
    assert order == ["shared", "own GET /Contacts", "shared", "own GET /Invoices"]
    assert usage.snapshot()["xero"]["waited_seconds"] == 2.5
