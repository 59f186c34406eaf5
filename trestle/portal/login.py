"""Signing in with Procore: OAuth 2.0 authorization code with PKCE, then who may see which pair.

1. :func:`start_login` makes the ``state`` and PKCE verifier (kept in a signed cookie) and the
   ``{login_url}/oauth/authorize`` address to send the browser to.
2. :func:`finish_login` redeems the code (``POST /oauth/token`` with the verifier and the app's
   credentials), then with the person's own token reads ``GET /rest/v1.0/me`` (Show User Info:
   id, login, name) and ``GET /rest/v1.0/companies`` (List Companies: the companies visible to
   that user; exempt from the ``Procore-Company-Id`` header). A pair is open to them only if its
   company is in that list and active *and* the pair's ``[portal]`` settings name them (id or
   login email). Only documented operations are used: Procore's extract has no company
   directory, so nothing else about the person (admin, ERP accountant) is read or trusted.
   The token is revoked at the end: the portal keeps no Procore token.

Errors: :class:`LoginFailed` (bad state, refused code, Procore unreachable) and
:class:`NotAllowed` (signed in, but no pair admits them); their messages never carry tokens,
codes or secrets.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from trestle.portal.sessions import Session
from trestle.settings import PortalSettings, ProcoreSettings

logger = logging.getLogger(__name__)
TIMEOUT = httpx.Timeout(20.0)


class LoginFailed(Exception):
    """The sign-in could not be completed (say so and offer to try again)."""


class NotAllowed(Exception):
    """The person signed in, but no pair's ``[portal]`` settings admit them."""


@dataclass(frozen=True)
class PairAccess:
    """What the portal needs of one pair to decide who may enter it."""

    pair: str
    company_id: int | None
    portal: PortalSettings


@dataclass(frozen=True)
class LoginStart:
    url: str
    state: str
    verifier: str


def start_login(procore: ProcoreSettings, redirect_uri: str) -> LoginStart:
    """A fresh ``state`` and PKCE verifier, and the authorize URL carrying its S256 challenge."""
    state, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {
        "response_type": "code",
        "client_id": procore.client_id or "",
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return LoginStart(f"{procore.login_url}/oauth/authorize?{urlencode(query)}", state, verifier)


def _matches(names: list[str], person: dict[str, Any]) -> bool:
    wanted = {name.strip().casefold() for name in names}
    return str(person.get("id")) in wanted or str(person.get("login") or "").casefold() in wanted


def access_for(person: dict[str, Any], portal: PortalSettings) -> str | None:
    """``"run"``, ``"view"`` or None for the ``/me`` ``person`` (a member of the pair's company)."""
    if not _matches(portal.allowed_users, person):
        return None
    return "run" if _matches(portal.run_users, person) else "view"


async def finish_login(
    procore: ProcoreSettings,
    pairs: list[PairAccess],
    *,
    code: str,
    redirect_uri: str,
    verifier: str,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Session:
    """Redeem ``code`` and decide the pairs the person may see; raise LoginFailed / NotAllowed."""
    secret = procore.client_secret.get_secret_value() if procore.client_secret else ""
    credentials = {"client_id": procore.client_id or "", "client_secret": secret}
    async with httpx.AsyncClient(timeout=TIMEOUT, transport=transport) as http:
        try:
            answer = await http.post(
                f"{procore.login_url}/oauth/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": redirect_uri,
                    "code_verifier": verifier,
                    **credentials,
                },
            )
        except httpx.HTTPError as exc:
            raise LoginFailed(f"Procore's login service could not be reached ({type(exc).__name__})") from None
        if answer.status_code != 200:
            raise LoginFailed(f"Procore refused the sign-in (HTTP {answer.status_code}); please try again")
        token = str(answer.json().get("access_token") or "")
        try:
            return await _who_and_where(http, procore, pairs, token)
        finally:
            try:
                await http.post(f"{procore.login_url}/oauth/revoke", data={"token": token, **credentials})
            except httpx.HTTPError:
                logger.warning("could not revoke the sign-in token at Procore (it expires on its own)")


async def _who_and_where(
    http: httpx.AsyncClient, procore: ProcoreSettings, pairs: list[PairAccess], token: str
) -> Session:
    headers = {"Authorization": f"Bearer {token}"}
    me = await http.get(f"{procore.api_url}/rest/v1.0/me", headers=headers)
    if me.status_code != 200:
        raise LoginFailed(f"Procore did not say who signed in (HTTP {me.status_code})")
    person = me.json()
    companies = await _member_companies(http, procore, headers)
    granted: dict[str, str] = {}
    for access in pairs:
        if access.company_id in companies and (level := access_for(person, access.portal)):
            granted[access.pair] = level
    name, email = str(person.get("name") or ""), str(person.get("login") or "")
    if not granted:
        raise NotAllowed(f"{name or email} is not allowed into this portal")
    return Session(user_id=int(person["id"]), name=name, email=email, pairs=granted)


async def _member_companies(http: httpx.AsyncClient, procore: ProcoreSettings, headers: dict[str, str]) -> set[int]:
    """Ids of the active companies the person's token can see (List Companies, every page)."""
    companies: set[int] = set()
    url: str | None = f"{procore.api_url}/rest/v1.0/companies"
    params: dict[str, Any] | None = {"per_page": 100}
    while url:
        response = await http.get(url, params=params, headers=headers)
        if response.status_code != 200:
            raise LoginFailed(f"Procore did not list the companies of who signed in (HTTP {response.status_code})")
        companies |= {int(c["id"]) for c in response.json() if c.get("id") is not None and c.get("is_active", True)}
        url, params = response.links.get("next", {}).get("url"), None
    return companies
