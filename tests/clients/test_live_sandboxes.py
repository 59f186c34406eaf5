"""The real clients against the running simulators: paging, token expiry, rate limits, faults, lost answers.

Everything goes over real HTTP to the session's sandboxes (``fresh_sandboxes`` resets their data,
faults and limits before each test). Waits are recorded by an injected ``sleep``; only the 429
tests really wait (about a second), because the simulators' windows run on the real clock.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest

from trestle.clients import (
    DailyLimitExceeded,
    NoPacing,
    OutcomeUnknownError,
    ProcoreClient,
    XeroClient,
)
from trestle.sandbox.xero.limits import DAY_LIMIT, RateLimiter

SYSTEMS = ("xero", "procore")


class RecordedSleep:
    """An injectable ``sleep`` that records each wait and, if ``really``, waits for it."""

    def __init__(self, *, really: bool = False) -> None:
        self.calls: list[float] = []
        self.really = really

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self.really:
            time.sleep(seconds)


# --------------------------------------------------------------------------- helpers
def xero_client(sandboxes: Any, sleep: RecordedSleep, **options: Any) -> XeroClient:
    """A Xero client of the sandbox's custom connection, as Trestle builds it."""
    env = sandboxes.env
    return XeroClient.custom_connection(
        client_id=env["TRESTLE_XERO_CLIENT_ID"],
        client_secret=env["TRESTLE_XERO_CLIENT_SECRET"],
        tenant_id=env["TRESTLE_XERO_TENANT_ID"],
        api_url=env["TRESTLE_XERO_API_URL"],
        identity_url=env["TRESTLE_XERO_IDENTITY_URL"],
        sleep=sleep,
        **options,
    )


def procore_client(sandboxes: Any, sleep: RecordedSleep, **options: Any) -> ProcoreClient:
    """A Procore client of the sandbox's service account."""
    env = sandboxes.env
    return ProcoreClient.service_account(
        client_id=env["TRESTLE_PROCORE_CLIENT_ID"],
        client_secret=env["TRESTLE_PROCORE_CLIENT_SECRET"],
        company_id=int(env["TRESTLE_PROCORE_COMPANY_ID"]),
        api_url=env["TRESTLE_PROCORE_API_URL"],
        login_url=env["TRESTLE_PROCORE_LOGIN_URL"],
        sleep=sleep,
        **options,
    )


def server_url(sandboxes: Any, system: str) -> str:
    return sandboxes.xero.url if system == "xero" else sandboxes.procore.url


def stats(sandboxes: Any, system: str) -> dict[str, Any]:
    response = httpx.get(f"{server_url(sandboxes, system)}/_sandbox/stats")
    response.raise_for_status()
    return response.json()


def control(sandboxes: Any, system: str, route: str, body: dict[str, Any] | None = None) -> None:
    httpx.post(f"{server_url(sandboxes, system)}/_sandbox/{route}", json=body or {}).raise_for_status()


def requests_to(sandboxes: Any, system: str, key: str) -> int:
    return int(stats(sandboxes, system)["requests"].get(key, 0))


def server_errors(sandboxes: Any, system: str) -> int:
    statuses = stats(sandboxes, system)["statuses"]
    return sum(count for status, count in statuses.items() if status.startswith("5"))


def xero_limiter(sandboxes: Any) -> RateLimiter:
    """The Xero simulator's rate limiter (the app object uvicorn serves keeps it in ``state``)."""
    return sandboxes.xero.server.config.app.state.xero_limiter


def first_draws_lost_then_kept(lost_rate: float) -> int:
    """A fault seed whose first write loses its answer and whose second keeps it (one draw per write)."""
    for seed in range(1000):
        draws = random.Random(seed)
        if draws.random() < lost_rate <= draws.random():
            return seed
    raise AssertionError("no such seed")


@pytest.fixture
def live(fresh_sandboxes: Any) -> Iterator[Any]:
    """Freshly reset sandboxes; faults and limits are switched off again afterwards."""
    yield fresh_sandboxes
    for system in SYSTEMS:
        control(fresh_sandboxes, system, "faults", {})
        control(fresh_sandboxes, system, "rate-limits", {"mode": "off"})


# --------------------------------------------------------------------------- pagination
def test_xero_contacts_are_read_to_the_last_page_each_once(live: Any) -> None:
    expected = stats(live, "xero")["objects"]["contacts"]
    client = xero_client(live, RecordedSleep(), page_size=7)
    ids = [contact.contact_id for contact in client.iter_contacts(include_archived=True)]
    assert len(ids) == expected
    assert len(set(ids)) == expected, "a contact came twice"
    pages = math.ceil(expected / 7) + (1 if expected % 7 == 0 else 0)
    assert requests_to(live, "xero", "GET /api.xro/2.0/Contacts") == pages


def test_procore_vendors_are_read_to_the_last_page_each_once(live: Any) -> None:
    expected = stats(live, "procore")["objects"]["vendors_active"]
    client = procore_client(live, RecordedSleep(), per_page=5)
    ids = [vendor.id for vendor in client.iter_vendors()]
    assert len(ids) == expected
    assert len(set(ids)) == expected, "a vendor came twice"
    assert requests_to(live, "procore", "GET /rest/v1.0/vendors") == math.ceil(expected / 5)
    assert set(ids) == {vendor.id for vendor in procore_client(live, RecordedSleep()).iter_vendors()}


# --------------------------------------------------------------------------- tokens
def test_xero_token_expiring_between_pages_is_refreshed_once(live: Any) -> None:
    expected = stats(live, "xero")["objects"]["contacts"]
    client = xero_client(live, RecordedSleep(), page_size=10)
    contacts = client.iter_contacts(include_archived=True)
    ids = [next(contacts).contact_id for _ in range(10)]
    control(live, "xero", "tokens/expire")
    ids += [contact.contact_id for contact in contacts]
    assert len(ids) == len(set(ids)) == expected
    assert requests_to(live, "xero", "POST /connect/token") == 2
    assert stats(live, "xero")["statuses"].get("401") == 1


def test_procore_token_expiring_between_pages_is_refreshed_once(live: Any) -> None:
    expected = stats(live, "procore")["objects"]["vendors_active"]
    client = procore_client(live, RecordedSleep(), per_page=5)
    vendors = client.iter_vendors()
    ids = [next(vendors).id for _ in range(5)]
    control(live, "procore", "tokens/expire")
    ids += [vendor.id for vendor in vendors]
    assert len(ids) == len(set(ids)) == expected
    assert requests_to(live, "procore", "POST /oauth/token") == 2
    assert stats(live, "procore")["statuses"].get("401") == 1


# --------------------------------------------------------------------------- rate limits
def test_xero_minute_limit_429_waits_retry_after_and_goes_on(live: Any) -> None:
    # scaled:30 makes the 60-per-minute window last 2 s: 65 quick calls must cross it
    control(live, "xero", "rate-limits", {"mode": "scaled:30"})
    sleep = RecordedSleep(really=True)
    client = xero_client(live, sleep, pacer=NoPacing())
    names = [client.organisation().name for _ in range(65)]
    assert len(names) == 65 and len(set(names)) == 1
    refused = stats(live, "xero")["statuses"].get("429", 0)
    assert refused >= 1, "the minute limit was never reached"
    assert len(sleep.calls) == refused, "every 429 was retried after one wait"
    assert all(1 <= wait <= 2 for wait in sleep.calls), f"waits should follow Retry-After: {sleep.calls}"


def test_procore_spike_limit_429_waits_retry_after_and_goes_on(live: Any) -> None:
    # scaled:10 makes the 25-per-10-seconds spike window last 1 s
    control(live, "procore", "rate-limits", {"mode": "scaled:10"})
    sleep = RecordedSleep(really=True)
    client = procore_client(live, sleep, pacer=NoPacing())
    codes = [len(client.tax_codes()) for _ in range(30)]
    assert len(codes) == 30 and len(set(codes)) == 1
    refused = stats(live, "procore")["statuses"].get("429", 0)
    assert refused >= 1, "the spike limit was never reached"
    assert len(sleep.calls) == refused
    assert all(wait == 1 for wait in sleep.calls), f"waits should follow Retry-After: {sleep.calls}"


def test_xero_daily_limit_stops_at_once_without_waiting(live: Any) -> None:
    control(live, "xero", "rate-limits", {"mode": "real"})
    xero_limiter(live).consume_day(live.env["TRESTLE_XERO_TENANT_ID"], DAY_LIMIT)
    sleep = RecordedSleep()
    client = xero_client(live, sleep)
    with pytest.raises(DailyLimitExceeded) as raised:
        client.organisation()
    assert raised.value.retry_after and raised.value.retry_after > 60
    assert sleep.calls == []
    assert stats(live, "xero")["statuses"].get("429") == 1, "exactly one request, never retried"


# --------------------------------------------------------------------------- faults
def test_xero_5xx_are_retried_and_every_contact_still_arrives(live: Any) -> None:
    expected = stats(live, "xero")["objects"]["contacts"]
    sleep = RecordedSleep()
    client = xero_client(live, sleep, page_size=4)
    client.organisation()  # the token first: faults apply to the API only
    control(live, "xero", "faults", {"error_rate": 0.3, "seed": 11})
    ids = [contact.contact_id for contact in client.iter_contacts(include_archived=True)]
    assert len(ids) == len(set(ids)) == expected
    injected = server_errors(live, "xero")
    assert injected >= 1, "the seed injected no error"
    assert len(sleep.calls) == injected == client.usage.snapshot()["xero"]["retries"]


def test_xero_batch_write_with_lost_answer_is_replayed_by_idempotency_key(live: Any) -> None:
    before = stats(live, "xero")["objects"]["contacts"]
    sleep = RecordedSleep()
    client = xero_client(live, sleep)
    client.organisation()
    control(live, "xero", "faults", {"lost_rate": 0.5, "seed": first_draws_lost_then_kept(0.5)})
    name = "Lost Answer Formwork Pty Ltd"
    results = client.save_contacts([{"Name": name}], idempotency_key="live-test-lost-contact")
    assert len(results) == 1 and results[0].ok and results[0].record is not None
    assert requests_to(live, "xero", "POST /api.xro/2.0/Contacts") == 2, "sent once, resent once"
    assert len(sleep.calls) == 1
    control(live, "xero", "faults", {})
    assert stats(live, "xero")["objects"]["contacts"] == before + 1, "the resend created a duplicate"
    found = list(client.iter_contacts(where=f'Name=="{name}"'))
    assert [contact.contact_id for contact in found] == [results[0].record.contact_id]


def test_procore_payment_with_lost_answer_is_outcome_unknown_and_created_once(live: Any) -> None:
    sleep = RecordedSleep()
    client = procore_client(live, sleep)
    project = next(client.iter_projects())
    commitment = next(client.iter_commitments("work_order", project.id))
    assert client.contract_payments(project.id, commitment.id) == []
    control(live, "procore", "faults", {"lost_rate": 1.0, "seed": 1})
    payment = {"date": date.today().isoformat(), "amount": "1250.00", "invoice_number": "LOST-1"}
    with pytest.raises(OutcomeUnknownError) as raised:
        client.create_contract_payment(project.id, commitment.id, payment)
    assert raised.value.system == "procore"
    control(live, "procore", "faults", {})
    assert requests_to(live, "procore", "POST /rest/v1.0/contract_payments") == 1, "a lost create was resent"
    assert sleep.calls == []
    payments = client.contract_payments(project.id, commitment.id)
    assert [p.invoice_number for p in payments] == ["LOST-1"]
