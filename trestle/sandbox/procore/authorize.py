"""Signing in as a person on the simulated login.procore.com: authorize page, PKCE, user tokens.

What a user app (the Trestle portal) sees of Procore's authorization-code flow:

- ``GET /oauth/authorize?response_type=code&client_id&redirect_uri&state&code_challenge&
  code_challenge_method=S256``: a sign-in page where a tester picks one of the seeded company users
  (the real page asks for an email and password; the sandbox has no passwords).
  ``POST /oauth/authorize`` signs in and redirects to ``redirect_uri`` with ``code`` and ``state``.
- ``POST /oauth/token`` with ``grant_type=authorization_code``, ``code``, ``redirect_uri``,
  ``code_verifier`` and the client's id and secret: a token pair acting as that user.
- ``GET /rest/v1.0/me``: ``{id, login, name}`` of the user a token acts as.
- ``GET /rest/v1.0/companies``: the companies that user can access (List Companies; the
  sandbox's one company for its active directory users, none otherwise).

Only operations of Procore's official extract are served (strict mode would refuse any other):
there is no company directory route (``/companies/{id}/users`` is not in the extract), so who a
person is and where they belong come from ``/me`` and ``/companies`` alone.

Narrower than, or silent in, Procore's documents, and so chosen strictly here: only
``S256`` challenges are accepted (``plain`` is refused); a code from a PKCE request is redeemed only
with its verifier and the exact ``redirect_uri``; inactive users cannot sign in. Authorize requests
without ``code_challenge`` and every other grant are answered by :mod:`.auth` unchanged (its
headless auto-approval stays for the service-account tests). A refreshed token acts as the app,
not the user (the portal never refreshes: it reads who signed in and revokes the token).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.routing import APIRoute

from ..common import sandbox_client
from . import views
from .auth import CODE_TTL_SECONDS, INVALID_CLIENT, INVALID_GRANT, OAuthServer, bearer_token, oauth_router, read_form
from .paging import paginate
from .routes_company import list_companies as service_account_companies
from .routes_company import me as service_account_me
from .routing import state_of

VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
USER_ID_BASE = 4_812_000

# (first name, last name, job title, active): the people who can sign in to the seeded company.
SEEDED_USERS: tuple[tuple[str, str, str, bool], ...] = (
    ("Alex", "Accounts", "Accounts Payable Officer", True),
    ("Pat", "Projects", "Project Administrator", True),
    ("Sam", "Site", "Site Supervisor", True),
    ("Former", "Estimator", "Estimator", False),
)
# The seeded company's accountant (the first seeded user, at the scenario's company).
SANDBOX_ACCOUNTANT = "alex.accounts@ironbark.sandbox.invalid"


def company_users(company_domain: str, seeded_at: datetime) -> list[dict[str, Any]]:
    """The sandbox company's people (internal records: only ``/me``'s three fields are ever served)."""
    users = []
    for index, (first, last, title, active) in enumerate(SEEDED_USERS):
        users.append(
            {
                "id": USER_ID_BASE + index,
                "first_name": first,
                "last_name": last,
                "name": f"{first} {last}",
                "initials": f"{first[0]}{last[0]}",
                "email_address": f"{first}.{last}@{company_domain}".lower(),
                "job_title": title,
                "is_active": active,
                "is_employee": True,
                "origin_id": None,
                "vendor": None,
                "created_at": seeded_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "updated_at": seeded_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
    return users


def users_of(request: Request) -> list[dict[str, Any]]:
    """The directory of the company the sandbox serving ``request`` holds."""
    state = state_of(request)
    domain = re.sub(r"[^a-z0-9]+", "", state.company["name"].split()[0].lower()) + ".sandbox.invalid"
    return company_users(domain, state.seeded_at)


@dataclass
class _UserCode:
    client_id: str
    redirect_uri: str
    challenge: str
    user_id: int
    expires_at: float


@dataclass
class UserSignIns:
    """Codes and tokens issued to people (not to the app), on top of :class:`~.auth.OAuthServer`."""

    oauth: OAuthServer
    codes: dict[str, _UserCode] = field(default_factory=dict)
    user_of_token: dict[str, int] = field(default_factory=dict)


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge for ``verifier`` (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _error(error: str, description: str, status: int) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _sign_in_page(params: dict[str, str], users: list[dict[str, Any]], company: str) -> HTMLResponse:
    hidden = "".join(
        f'<input type="hidden" name="{escape(key)}" value="{escape(value)}">' for key, value in params.items()
    )
    options = "".join(
        f'<option value="{escape(user["email_address"])}">{escape(user["name"])} '
        f"({escape(user['email_address'])})</option>"
        for user in users
        if user["is_active"]
    )
    body = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>Sign in - Procore sandbox</title></head><body>"
        f"<h1>Sign in to Procore</h1><p>Company: {escape(company)} (sandbox: pick a directory user)</p>"
        f"<form method='post' action='/oauth/authorize'>{hidden}"
        "<label for='login'>Email</label> "
        f"<select id='login' name='login'>{options}</select> "
        "<button type='submit' id='sign-in'>Sign in</button></form></body></html>"
    )
    return HTMLResponse(body)


def authorize_router(sign_ins: UserSignIns) -> APIRouter:
    """The person-facing login routes; anything else falls through to :func:`.auth.oauth_router`."""
    router = APIRouter()
    fallback: dict[tuple[str, str], Callable[[Request], Awaitable[Response]]] = {
        (method, route.path): route.endpoint
        for route in oauth_router(sign_ins.oauth).routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }

    def _check_request(params: dict[str, str]) -> Response | None:
        expected = sandbox_client("procore", sign_ins.oauth.runtime.seed)
        if params.get("client_id") != expected.client_id:
            return _error("invalid_client", INVALID_CLIENT, 401)
        if params.get("response_type") != "code":
            return _error(
                "unsupported_response_type", "The authorization server does not support this response type.", 400
            )
        if params.get("code_challenge_method") != "S256" or not re.fullmatch(
            r"[A-Za-z0-9\-_]{43}", params.get("code_challenge", "")
        ):
            return _error(
                "invalid_request", "code_challenge must be an S256 challenge (code_challenge_method=S256).", 400
            )
        if not params.get("redirect_uri", "").startswith(("http://", "https://")):
            return _error("invalid_request", "redirect_uri must be an http(s) URL.", 400)
        return None

    @router.get("/oauth/authorize")
    async def authorize(request: Request) -> Response:
        params = dict(request.query_params)
        if "code_challenge" not in params:
            return await fallback[("GET", "/oauth/authorize")](request)
        problem = _check_request(params)
        if problem is not None:
            return problem
        wanted = ("response_type", "client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method")
        return _sign_in_page(
            {key: params[key] for key in wanted if key in params}, users_of(request), state_of(request).company["name"]
        )

    @router.post("/oauth/authorize")
    async def sign_in(request: Request) -> Response:
        form = {key: str(value) for key, value in (await read_form(request)).items()}
        problem = _check_request(form)
        if problem is not None:
            return problem
        login = form.get("login", "").strip().lower()
        user = next((u for u in users_of(request) if u["email_address"] == login and u["is_active"]), None)
        if user is None:
            return HTMLResponse("<h1>Sign in failed</h1><p>No active user with that email.</p>", status_code=401)
        code = secrets.token_urlsafe(24)
        sign_ins.codes[code] = _UserCode(
            form["client_id"], form["redirect_uri"], form["code_challenge"], user["id"], time.time() + CODE_TTL_SECONDS
        )
        query = {"code": code, **({"state": form["state"]} if "state" in form else {})}
        separator = "&" if "?" in form["redirect_uri"] else "?"
        return RedirectResponse(f"{form['redirect_uri']}{separator}{urlencode(query)}", status_code=302)

    @router.post("/oauth/token")
    async def token(request: Request) -> Response:
        form = await read_form(request)
        code = (
            sign_ins.codes.get(str(form.get("code") or "")) if form.get("grant_type") == "authorization_code" else None
        )
        if code is None:
            return await fallback[("POST", "/oauth/token")](request)
        if not sign_ins.oauth.client_ok(form.get("client_id"), form.get("client_secret")):
            return _error("invalid_client", INVALID_CLIENT, 401)
        del sign_ins.codes[str(form["code"])]  # single use, even when the rest of the request is wrong
        verifier = str(form.get("code_verifier") or "")
        if (
            code.expires_at < time.time()
            or code.client_id != form.get("client_id")
            or code.redirect_uri != form.get("redirect_uri")
            or not VERIFIER.fullmatch(verifier)
            or not secrets.compare_digest(pkce_challenge(verifier), code.challenge)
        ):
            return _error("invalid_grant", INVALID_GRANT, 400)
        body = sign_ins.oauth.issue(code.client_id, with_refresh=True)
        sign_ins.user_of_token[body["access_token"]] = code.user_id
        return JSONResponse(body)

    def _person(request: Request) -> dict[str, Any] | None:
        user_id = sign_ins.user_of_token.get(bearer_token(request) or "")
        return None if user_id is None else next(u for u in users_of(request) if u["id"] == user_id)

    @router.get("/rest/v1.0/me")
    async def me(request: Request) -> Response:
        user = _person(request)
        if user is None:
            return await service_account_me(request)
        return JSONResponse({"id": user["id"], "login": user["email_address"], "name": user["name"]})

    @router.get("/rest/v1.0/companies")
    async def list_companies(request: Request) -> Response:
        user = _person(request)
        if user is None:
            return await service_account_companies(request)
        state = state_of(request)
        visible = [state.company] if user["is_active"] else []
        return paginate(request, visible, lambda _: views.company(state))

    return router


def install(app: FastAPI, oauth: OAuthServer) -> None:
    """Mount the sign-in routes ahead of :mod:`.auth`'s (call before including its router)."""
    app.include_router(authorize_router(UserSignIns(oauth)))


def sandbox_portal_env() -> dict[str, str]:
    """``[portal]`` settings for trying the portal on the sandbox: its accountant may enter and run."""
    return {
        "TRESTLE_PORTAL_ALLOWED_USERS": SANDBOX_ACCOUNTANT,
        "TRESTLE_PORTAL_RUN_USERS": SANDBOX_ACCOUNTANT,
    }
