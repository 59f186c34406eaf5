"""The Procore sandbox's person sign-in: authorize page, PKCE, user tokens, /me and /companies."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.portal.signin import ALLOWED, hidden_fields
from trestle.sandbox.common import SandboxRuntime, sandbox_client
from trestle.sandbox.procore import create_app
from trestle.sandbox.procore.authorize import SANDBOX_ACCOUNTANT, pkce_challenge
from trestle.sandbox.runner import serve_in_thread

SEED = 1
CLIENT = sandbox_client("procore", SEED)
CREDENTIALS = {"client_id": CLIENT.client_id, "client_secret": CLIENT.client_secret}
REDIRECT = "http://127.0.0.1:9/auth/callback"


@pytest.fixture(scope="module")
def procore() -> Iterator[str]:
    runtime = SandboxRuntime(name="procore", dataset="small", seed=SEED, rate_limit_mode="off")
    server = serve_in_thread(create_app(runtime))
    yield server.url
    server.stop()


def _authorize(procore: str, verifier: str, **overrides: str) -> httpx.Response:
    params = {
        "response_type": "code",
        "client_id": CLIENT.client_id,
        "redirect_uri": REDIRECT,
        "state": "st4te",
        "code_challenge": pkce_challenge(verifier),
        "code_challenge_method": "S256",
        **overrides,
    }
    return httpx.get(f"{procore}/oauth/authorize", params=params)


def _code(procore: str, verifier: str, login: str = ALLOWED) -> str:
    page = _authorize(procore, verifier)
    assert page.status_code == 200 and "Sign in to Procore" in page.text
    back = httpx.post(f"{procore}/oauth/authorize", data={**hidden_fields(page.text), "login": login})
    assert back.status_code == 302
    query = parse_qs(urlsplit(back.headers["location"]).query)
    assert back.headers["location"].startswith(REDIRECT + "?") and query["state"] == ["st4te"]
    return query["code"][0]


def _redeem(procore: str, code: str, verifier: str, redirect_uri: str = REDIRECT) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier}
    return httpx.post(f"{procore}/oauth/token", data={**data, **CREDENTIALS})


def test_a_signed_in_person_gets_a_token_that_acts_as_them(procore: str) -> None:
    verifier = secrets.token_urlsafe(48)
    token = _redeem(procore, _code(procore, verifier), verifier)
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["token_type"] == "bearer" and body["refresh_token"]
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    me = httpx.get(f"{procore}/rest/v1.0/me", headers=headers).json()
    assert me["login"] == ALLOWED == SANDBOX_ACCOUNTANT and me["name"] == "Alex Accounts"
    assert set(me) == {"id", "login", "name"}

    companies = httpx.get(f"{procore}/rest/v1.0/companies", headers=headers)
    assert companies.status_code == 200 and companies.headers["Total"] == "1", "no Procore-Company-Id needed"
    assert [(c["name"], c["is_active"]) for c in companies.json()] == [("Ironbark Constructions", True)]
    directory = httpx.get(
        f"{procore}/rest/v1.0/companies/{companies.json()[0]['id']}/users",
        headers={**headers, "Procore-Company-Id": str(companies.json()[0]["id"])},
    )
    assert directory.status_code in (400, 404), "the undocumented company directory is not served"


def test_a_lenient_sandbox_serves_no_company_directory_either() -> None:
    runtime = SandboxRuntime(name="procore", dataset="small", seed=SEED, rate_limit_mode="off", strict=False)
    server = serve_in_thread(create_app(runtime))
    try:
        token = httpx.post(
            f"{server.url}/oauth/token", data={"grant_type": "client_credentials", **CREDENTIALS}
        ).json()["access_token"]
        company = httpx.get(f"{server.url}/rest/v1.0/companies", headers={"Authorization": f"Bearer {token}"})
        company_id = company.json()[0]["id"]
        directory = httpx.get(
            f"{server.url}/rest/v1.0/companies/{company_id}/users",
            headers={"Authorization": f"Bearer {token}", "Procore-Company-Id": str(company_id)},
        )
        assert directory.status_code == 404
    finally:
        server.stop()


def test_a_code_needs_its_verifier_and_redirect_uri_and_is_single_use(procore: str) -> None:
    verifier = secrets.token_urlsafe(48)
    code = _code(procore, verifier)
    assert _redeem(procore, code, secrets.token_urlsafe(48)).json()["error"] == "invalid_grant"
    assert _redeem(procore, code, verifier).json()["error"] == "invalid_grant", "a refused code stays spent"

    code = _code(procore, verifier)
    assert _redeem(procore, code, verifier, redirect_uri="http://127.0.0.1:9/elsewhere").status_code == 400
    code = _code(procore, verifier)
    assert _redeem(procore, code, verifier).status_code == 200
    assert _redeem(procore, code, verifier).status_code == 400


def test_only_s256_challenges_and_active_users_are_accepted(procore: str) -> None:
    verifier = secrets.token_urlsafe(48)
    plain = _authorize(procore, verifier, code_challenge=verifier[:43], code_challenge_method="plain")
    assert plain.status_code == 400 and plain.json()["error"] == "invalid_request"
    assert _authorize(procore, verifier, client_id="someone-else").status_code == 401
    page = _authorize(procore, verifier)
    assert "former.estimator" not in page.text, "inactive users are not offered"
    refused = httpx.post(
        f"{procore}/oauth/authorize",
        data={**hidden_fields(page.text), "login": "former.estimator@ironbark.sandbox.invalid"},
    )
    assert refused.status_code == 401


def test_a_revoked_sign_in_token_is_dead(procore: str) -> None:
    verifier = secrets.token_urlsafe(48)
    access = _redeem(procore, _code(procore, verifier), verifier).json()["access_token"]
    assert httpx.post(f"{procore}/oauth/revoke", data={"token": access, **CREDENTIALS}).status_code == 200
    assert httpx.get(f"{procore}/rest/v1.0/me", headers={"Authorization": f"Bearer {access}"}).status_code == 401
