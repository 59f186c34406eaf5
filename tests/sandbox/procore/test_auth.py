"""OAuth grants, token checks, the company header and rate limits, over real HTTP."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from trestle.sandbox.common import SandboxRuntime, sandbox_client
from trestle.sandbox.procore import RateLimits, create_app
from trestle.sandbox.runner import serve_in_thread

from .conftest import SEED, issue_token

CLIENT = sandbox_client("procore", SEED)
CREDENTIALS = {"client_id": CLIENT.client_id, "client_secret": CLIENT.client_secret}


@pytest.mark.parametrize("encoding", ["data", "files", "json"])
def test_client_credentials_accepts_every_body_encoding(base_url: str, encoding: str) -> None:
    fields = {"grant_type": "client_credentials", **CREDENTIALS}
    if encoding == "files":
        payload = {"files": {name: (None, value) for name, value in fields.items()}}
    else:
        payload = {encoding: fields}
    response = httpx.post(f"{base_url}/oauth/token", **payload)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 5400
    assert isinstance(body["created_at"], int)
    assert "refresh_token" not in body


def test_wrong_secret_is_invalid_client_and_never_echoed(base_url: str) -> None:
    secret = "not-the-secret-" + CLIENT.client_secret[:4]
    response = httpx.post(
        f"{base_url}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": CLIENT.client_id, "client_secret": secret},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert secret not in response.text


def _authorization_code(base_url: str) -> str:
    response = httpx.get(
        f"{base_url}/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": CLIENT.client_id,
            "redirect_uri": "http://localhost/callback",
            "state": "xyz",
        },
    )
    assert response.status_code == 302
    query = parse_qs(urlparse(response.headers["location"]).query)
    assert query["state"] == ["xyz"]
    return query["code"][0]


def test_authorization_code_is_single_use_and_refresh_tokens_rotate(base_url: str) -> None:
    code = _authorization_code(base_url)
    grant = {"grant_type": "authorization_code", "code": code, "redirect_uri": "http://localhost/callback"}
    first = httpx.post(f"{base_url}/oauth/token", data={**grant, **CREDENTIALS})
    assert first.status_code == 200
    assert httpx.post(f"{base_url}/oauth/token", data={**grant, **CREDENTIALS}).json()["error"] == "invalid_grant"

    old_refresh = first.json()["refresh_token"]
    refreshed = httpx.post(
        f"{base_url}/oauth/token", json={"grant_type": "refresh_token", "refresh_token": old_refresh, **CREDENTIALS}
    )
    assert refreshed.status_code == 200
    assert refreshed.json()["refresh_token"] != old_refresh

    reused = httpx.post(
        f"{base_url}/oauth/token", json={"grant_type": "refresh_token", "refresh_token": old_refresh, **CREDENTIALS}
    )
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"

    new_access = refreshed.json()["access_token"]
    info = httpx.get(f"{base_url}/oauth/token/info", headers={"Authorization": f"Bearer {new_access}"})
    assert info.status_code == 200 and info.json()["application"]["uid"] == CLIENT.client_id


def test_revoke_kills_access_and_refresh_token(base_url: str, company_id: int) -> None:
    code = _authorization_code(base_url)
    tokens = httpx.post(
        f"{base_url}/oauth/token",
        data={"grant_type": "authorization_code", "code": code, **CREDENTIALS},
    ).json()
    httpx.post(f"{base_url}/oauth/revoke", data={"token": tokens["access_token"], **CREDENTIALS}).raise_for_status()
    headers = {"Authorization": f"Bearer {tokens['access_token']}", "Procore-Company-Id": str(company_id)}
    assert httpx.get(f"{base_url}/rest/v1.0/me", headers=headers).status_code == 401
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], **CREDENTIALS}
    assert httpx.post(f"{base_url}/oauth/token", data=refresh).json()["error"] == "invalid_grant"


def test_expired_and_unknown_tokens_are_401(api: httpx.Client, base_url: str) -> None:
    assert api.get("/rest/v1.0/me").status_code == 200
    httpx.post(f"{base_url}/_sandbox/tokens/expire").raise_for_status()
    expired = api.get("/rest/v1.0/me")
    assert expired.status_code == 401
    assert "access token has expired" in expired.json()["errors"]
    unknown = api.get("/rest/v1.0/me", headers={"Authorization": "Bearer nonsense"})
    assert unknown.status_code == 401


def test_company_header_rules(api: httpx.Client, company_id: int) -> None:
    missing = api.get("/rest/v1.0/vendors", params={"company_id": company_id}, headers={"Procore-Company-Id": ""})
    assert missing.status_code == 400
    assert missing.json()["errors"].startswith("Missing Procore-Company-Id header!")
    other = api.get("/rest/v1.0/vendors", params={"company_id": 1}, headers={"Procore-Company-Id": "1"})
    assert other.status_code == 403
    assert other.json()["errors"] == "App is not connected to this company"
    exempt = api.get("/rest/v1.0/companies", headers={"Procore-Company-Id": ""})
    assert exempt.status_code == 200
    assert exempt.json()[0]["id"] == company_id > 2**32


def test_rate_limits_answer_429_with_headers() -> None:
    runtime = SandboxRuntime(name="procore", dataset="small", seed=SEED, rate_limit_mode="real")
    limits = RateLimits(hourly_limit=50, hourly_period=3600, spike_limit=3, spike_period=60)
    server = serve_in_thread(create_app(runtime, rate_limits=limits))
    try:
        token = issue_token(server.url)
        headers = {"Authorization": f"Bearer {token}"}
        answers = [httpx.get(f"{server.url}/rest/v1.0/me", headers=headers) for _ in range(4)]
    finally:
        server.stop()
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert [answer.headers["X-Rate-Limit-Remaining"] for answer in answers[:3]] == ["2", "1", "0"]
    assert answers[0].headers["X-Rate-Limit-Limit"] == "3"
    limited = answers[3]
    assert limited.headers["content-type"].startswith("text/plain")
    assert limited.text.startswith("You have surpassed the max number of requests for an hour.")
    assert int(limited.headers["Retry-After"]) >= 1
    assert int(limited.headers["X-Rate-Limit-Reset"]) > 1_600_000_000
