"""Identity checks and Xero's rate limits over HTTP."""

from __future__ import annotations

import concurrent.futures

import httpx

from tests.sandbox.xero.conftest import API, XeroSandbox
from trestle.sandbox.common import sandbox_client


def test_token_endpoint_accepts_basic_and_form_credentials(xero: XeroSandbox) -> None:
    client = sandbox_client("xero", 1)
    form = httpx.post(
        f"{xero.url}/connect/token",
        data={"grant_type": "client_credentials", "client_id": client.client_id, "client_secret": client.client_secret},
    )
    assert form.status_code == 200
    assert set(form.json()) == {"access_token", "expires_in", "token_type", "scope"}
    assert form.json()["expires_in"] == 1800
    bad = httpx.post(
        f"{xero.url}/connect/token", data={"grant_type": "client_credentials"}, auth=(client.client_id, "wrong")
    )
    assert bad.status_code == 400 and bad.json() == {"error": "invalid_client"}
    assert "wrong" not in bad.text


def test_authorization_code_and_rotating_refresh(xero: XeroSandbox) -> None:
    client = sandbox_client("xero", 1)
    redirect = httpx.get(
        f"{xero.url}/identity/connect/authorize",
        params={
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": "http://localhost/cb",
            "state": "s1",
        },
    )
    assert redirect.status_code == 302
    location = httpx.URL(redirect.headers["location"])
    assert location.params["state"] == "s1"
    auth = (client.client_id, client.client_secret)
    tokens = httpx.post(
        f"{xero.url}/connect/token",
        auth=auth,
        data={"grant_type": "authorization_code", "code": location.params["code"]},
    ).json()
    refreshed = httpx.post(
        f"{xero.url}/connect/token",
        auth=auth,
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    ).json()
    assert refreshed["refresh_token"] != tokens["refresh_token"]
    grace = httpx.post(
        f"{xero.url}/connect/token",
        auth=auth,
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    assert grace.status_code == 200  # the rotated-out token still works within the grace period
    unknown = httpx.post(
        f"{xero.url}/connect/token", auth=auth, data={"grant_type": "refresh_token", "refresh_token": "nope"}
    )
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_grant"
    connections = httpx.get(f"{xero.url}/connections", headers={"Authorization": f"Bearer {refreshed['access_token']}"})
    assert connections.json()[0]["tenantId"] == xero.tenant_id


def test_wrong_tenant_is_403_problem(api: httpx.Client) -> None:
    response = api.get("/Contacts", headers={"xero-tenant-id": "00000000-0000-0000-0000-000000000001"})
    assert response.status_code == 403
    body = response.json()
    assert (body["Title"], body["Status"], body["Detail"]) == ("Forbidden", 403, "AuthenticationUnsuccessful")
    assert "Instance" in body and body["Type"] is None


def test_expired_token_is_401(xero: XeroSandbox, api: httpx.Client) -> None:
    xero.control("tokens/expire", {})
    response = api.get("/Organisation")
    assert response.status_code == 401
    assert response.json()["Detail"].startswith("TokenExpired: token expired at ")
    unknown = api.get("/Organisation", headers={"Authorization": "Bearer nonsense"})
    assert unknown.status_code == 401 and unknown.json()["Detail"] == "AuthenticationUnsuccessful"


def test_minute_limit_under_scaled_clock(xero: XeroSandbox, api: httpx.Client) -> None:
    xero.control("rate-limits", {"mode": "scaled:2"})
    remaining = [int(api.get("/Organisation").headers["X-MinLimit-Remaining"]) for _ in range(60)]
    assert remaining[0] == 59 and remaining[-1] == 0
    refused = api.get("/Organisation")
    assert refused.status_code == 429
    assert refused.headers["X-Rate-Limit-Problem"] == "minute"
    assert 1 <= int(refused.headers["Retry-After"]) <= 30  # a scaled minute is 30 real seconds
    assert refused.headers["X-DayLimit-Remaining"] == "4940"  # the refused call was not counted


def test_day_limit_says_day(xero: XeroSandbox, api: httpx.Client) -> None:
    xero.control("rate-limits", {"mode": "scaled:60"})
    assert api.get("/Organisation").status_code == 200
    xero.app.state.xero_limiter.consume_day(xero.tenant_id, 4999)
    refused = api.get("/Organisation")
    assert refused.status_code == 429
    assert refused.headers["X-Rate-Limit-Problem"] == "day"
    assert int(refused.headers["Retry-After"]) > 60


def test_concurrent_limit(xero: XeroSandbox) -> None:
    xero.control("rate-limits", {"mode": "real"})
    xero.control("faults", {"latency_ms": 1500})
    token = xero.token()
    headers = {"Authorization": f"Bearer {token}", "xero-tenant-id": xero.tenant_id}

    def call(_: int) -> httpx.Response:
        return httpx.get(f"{xero.url}{API}/Organisation", headers=headers, timeout=10)

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(call, range(8)))
    refused = [r for r in responses if r.status_code == 429]
    assert sum(r.status_code == 200 for r in responses) == 5
    assert len(refused) == 3
    assert all(r.headers["X-Rate-Limit-Problem"] == "concurrent" for r in refused)


def test_rate_headers_absent_when_limits_off(api: httpx.Client) -> None:
    response = api.get("/Organisation")
    assert response.status_code == 200
    assert "X-MinLimit-Remaining" not in response.headers
    assert response.headers["Xero-Correlation-Id"]
