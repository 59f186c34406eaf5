"""Tokens: expiry mid-run, forced refresh on 401, rotating single-use refresh tokens, no leaked secrets."""

from __future__ import annotations

import base64
import logging
from urllib.parse import parse_qs

import httpx
import pytest

from tests.clients.conftest import PROCORE_COMPANY, XERO_TENANT, Recorder, Sleeps, envelope, xero_json
from trestle.clients import (
    AuthenticationError,
    ClientCredentialsAuthenticator,
    MemoryTokenStore,
    ProcoreClient,
    RefreshTokenAuthenticator,
    TokenSet,
    XeroClient,
)

CLIENT_SECRET = "s3cret-client-VALUE-0001"
ORGANISATION = envelope("Organisations", [{"OrganisationID": "org-1", "Name": "Harbour Build Ltd"}])


class XeroIdentity:
    """Issues client-credentials tokens; the API accepts only the newest one unless told to reject all."""

    def __init__(self) -> None:
        self.issued: list[str] = []
        self.reject_all = False
        self.forms: list[dict[str, list[str]]] = []
        self.basic: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/connect/token":
            self.forms.append(parse_qs(request.content.decode()))
            self.basic.append(request.headers.get("Authorization", ""))
            token = f"access-{len(self.issued) + 1}-tok"
            self.issued.append(token)
            return httpx.Response(200, json={"access_token": token, "expires_in": 1800, "token_type": "Bearer"})
        bearer = request.headers["Authorization"].removeprefix("Bearer ")
        if self.reject_all or bearer != self.issued[-1]:
            problem = {"Type": None, "Title": "Unauthorized", "Status": 401, "Detail": "TokenExpired: token expired"}
            return xero_json(problem, 401)
        return xero_json(ORGANISATION)


def xero_client(identity: XeroIdentity, clock: list[float] | None = None) -> XeroClient:
    transport = Recorder(identity).transport
    now = clock or [0.0]
    authenticator = ClientCredentialsAuthenticator(
        "https://identity.xero.test/connect/token",
        "client-id-1",
        CLIENT_SECRET,
        transport=transport,
        clock=lambda: 1_700_000_000 + now[0],
    )
    return XeroClient(
        api_url="https://api.xero.test",
        tenant_id=XERO_TENANT,
        authenticator=authenticator,
        transport=transport,
        sleep=Sleeps(),
    )


def test_token_rejected_mid_run_is_refreshed_once_then_succeeds() -> None:
    identity = XeroIdentity()
    client = xero_client(identity)
    client.organisation()
    identity.issued.append("access-rotated-elsewhere")  # the server no longer accepts our cached token
    assert client.organisation().name == "Harbour Build Ltd"
    assert len(identity.forms) == 2
    expected_basic = "Basic " + base64.b64encode(f"client-id-1:{CLIENT_SECRET}".encode()).decode()
    assert identity.basic[0] == expected_basic
    assert identity.forms[0] == {"grant_type": ["client_credentials"]}


def test_second_401_after_refresh_is_authentication_error() -> None:
    identity = XeroIdentity()
    identity.reject_all = True
    client = xero_client(identity)
    with pytest.raises(AuthenticationError) as caught:
        client.organisation()
    assert caught.value.status == 401 and "TokenExpired" in caught.value.detail
    assert len(identity.forms) == 2


def test_token_renewed_before_expiry_without_a_401() -> None:
    identity = XeroIdentity()
    clock = [0.0]
    client = xero_client(identity, clock)
    client.organisation()
    clock[0] = 1800 - 59  # inside the 60 s margin
    client.organisation()
    assert len(identity.forms) == 2
    assert len([r for r in identity.issued if r]) == 2


def test_token_endpoint_refusal_hides_the_secret(caplog: pytest.LogCaptureFixture) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": "invalid_client", "error_description": f"bad secret {CLIENT_SECRET}"})

    caplog.set_level(logging.DEBUG)
    authenticator = ClientCredentialsAuthenticator(
        "https://login.procore.test/oauth/token",
        "client-id-1",
        CLIENT_SECRET,
        credentials_in="body",
        transport=httpx.MockTransport(handler),
    )
    with pytest.raises(AuthenticationError) as caught:
        authenticator.auth_headers()
    error = caught.value
    assert error.system == "procore" and "invalid_client" in str(error)
    for text in (str(error), repr(error), error.detail, repr(authenticator), caplog.text):
        assert CLIENT_SECRET not in text


def test_no_token_or_authorization_header_in_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    leaked = "Bearer access-1-tok"

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/connect/token":
            return httpx.Response(200, json={"access_token": "access-1-tok", "expires_in": 1800})
        # a misbehaving server echoing our credentials back in a 503
        return httpx.Response(503, text=f"upstream said Authorization: {leaked} access_token=access-1-tok")

    caplog.set_level(logging.DEBUG)
    transport = httpx.MockTransport(handler)
    client = XeroClient(
        api_url="https://api.xero.test",
        tenant_id=XERO_TENANT,
        authenticator=ClientCredentialsAuthenticator(
            "https://identity.xero.test/connect/token", "id", CLIENT_SECRET, transport=transport
        ),
        transport=transport,
        sleep=Sleeps(),
    )
    with pytest.raises(Exception) as caught:
        client.organisation()
    for text in (str(caught.value), repr(caught.value), caplog.text):
        assert "access-1-tok" not in text and CLIENT_SECRET not in text
    assert "***" in str(caught.value)


def test_token_set_repr_hides_tokens() -> None:
    tokens = TokenSet(access_token="acc-123456", refresh_token="ref-654321", expires_at=1.0, scope="openid")
    assert "acc-123456" not in repr(tokens) and "ref-654321" not in str(tokens)
    assert "openid" in repr(tokens)


class RecordingStore(MemoryTokenStore):
    """Remembers every access token ever saved, to prove none is used before it is persisted."""

    def __init__(self, initial: TokenSet) -> None:
        super().__init__({"procore:1": initial})
        self.saved_access_tokens = {initial.access_token}

    def save(self, key: str, tokens: TokenSet) -> None:
        super().save(key, tokens)
        self.saved_access_tokens.add(tokens.access_token)


class ProcoreLogin:
    """Single-use refresh tokens: each refresh burns the old one and issues a new pair."""

    def __init__(self, store: RecordingStore, key: str) -> None:
        self.valid_refresh = {"refresh-0"}
        self.valid_access = {"access-0"}
        self.counter = 0
        self.store = store
        self.key = key
        self.used_before_saved = False
        self.refresh_forms: list[dict[str, list[str]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            form = parse_qs(request.content.decode())
            self.refresh_forms.append(form)
            refresh = form["refresh_token"][0]
            if refresh not in self.valid_refresh:
                return httpx.Response(400, json={"error": "invalid_grant"})
            self.valid_refresh.discard(refresh)
            self.counter += 1
            access, new_refresh = f"access-{self.counter}", f"refresh-{self.counter}"
            self.valid_refresh.add(new_refresh)
            self.valid_access = {access}
            return httpx.Response(
                200,
                json={"access_token": access, "refresh_token": new_refresh, "expires_in": 5400, "token_type": "bearer"},
            )
        bearer = request.headers["Authorization"].removeprefix("Bearer ")
        if bearer not in self.store.saved_access_tokens:
            self.used_before_saved = True
        if bearer not in self.valid_access:
            return httpx.Response(401, json={"errors": "Your access token has expired"})
        return httpx.Response(200, json={"id": 42, "login": "svc@example.test", "name": "Trestle"})


def test_rotating_single_use_refresh_tokens_shared_by_two_processes() -> None:
    store = RecordingStore(TokenSet("access-0", "refresh-0", expires_at=0.0))
    login = ProcoreLogin(store, "procore:1")
    transport = httpx.MockTransport(login)

    def client() -> ProcoreClient:
        authenticator = RefreshTokenAuthenticator(
            "https://login.procore.test/oauth/token",
            "client-id-1",
            CLIENT_SECRET,
            store=store,
            key="procore:1",
            transport=transport,
        )
        return ProcoreClient(
            api_url="https://api.procore.test",
            company_id=PROCORE_COMPANY,
            authenticator=authenticator,
            transport=transport,
            sleep=Sleeps(),
        )

    first, second = client(), client()
    assert first.me().id == 42  # stored token was expired: refresh-0 is spent, pair 1 saved
    assert second.me().id == 42  # reads pair 1 from the store instead of replaying refresh-0
    assert [form["refresh_token"] for form in login.refresh_forms] == [["refresh-0"]]

    login.valid_access = set()  # the server expires every access token
    assert second.me().id == 42  # 401 → refresh with refresh-1 → pair 2 saved
    assert first.me().id == 42  # access-1 now rejected → pair 2 taken from the store, no refresh
    assert [form["refresh_token"][0] for form in login.refresh_forms] == ["refresh-0", "refresh-1"]
    login.valid_access = set()
    assert first.me().id == 42  # access-2 rejected → refresh-2 spent → pair 3
    assert [form["refresh_token"][0] for form in login.refresh_forms] == ["refresh-0", "refresh-1", "refresh-2"]
    stored = store.load("procore:1")
    assert stored is not None and (stored.access_token, stored.refresh_token) == ("access-3", "refresh-3")
    assert not login.used_before_saved
    assert all(form["client_secret"] == [CLIENT_SECRET] for form in login.refresh_forms)


def test_refresh_without_stored_token_is_authentication_error() -> None:
    authenticator = RefreshTokenAuthenticator(
        "https://login.procore.test/oauth/token", "id", CLIENT_SECRET, store=MemoryTokenStore(), key="missing"
    )
    with pytest.raises(AuthenticationError, match="authorise the app again"):
        authenticator.auth_headers()
