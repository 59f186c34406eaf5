"""OAuth 2.0 endpoints of the simulated login.procore.com (API_NOTES.md §3).

The same server plays the login host: ``POST /oauth/token`` (urlencoded, multipart or JSON body,
client credentials in the body), ``GET /oauth/authorize`` (auto-approved), ``GET /oauth/token/info``
and ``POST /oauth/revoke``. Grants: ``client_credentials`` (a DMSA: no refresh token),
``authorization_code`` (code single use, 10 minutes) and ``refresh_token`` (single use: every
refresh returns a new pair and the old refresh token is dead). Errors use Doorkeeper's shape,
``{"error": "invalid_grant", "error_description": ...}``. Secrets and tokens never appear in
error texts.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from ..common import SandboxRuntime, sandbox_client

DEFAULT_TOKEN_TTL = 5400
CODE_TTL_SECONDS = 600
OOB_REDIRECT = "urn:ietf:wg:oauth:2.0:oob"

INVALID_GRANT = (
    "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI "
    "used in the authorization request, or was issued to another client."
)
INVALID_CLIENT = (
    "Client authentication failed due to unknown client, no client authentication included, "
    "or unsupported authentication method."
)


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    expires_at: float


@dataclass
class OAuthServer:
    """Token bookkeeping beyond the shared :class:`~trestle.sandbox.common.TokenRegistry`.

    The registry issues and checks tokens; this adds what Procore's login host also does:
    authorization codes bound to a redirect URI with a 10-minute life, revocation, and the link
    between an access token and its refresh token (revoking either kills both).
    """

    runtime: SandboxRuntime
    token_ttl: int = DEFAULT_TOKEN_TTL
    revoked: set[str] = field(default_factory=set)
    codes: dict[str, _Code] = field(default_factory=dict)
    pair_of: dict[str, str] = field(default_factory=dict)
    issued_at: dict[str, int] = field(default_factory=dict)

    def client_ok(self, client_id: Any, client_secret: Any) -> bool:
        """Whether the body carried the accepted client's id and secret."""
        expected = sandbox_client("procore", self.runtime.seed)
        return (
            isinstance(client_id, str)
            and isinstance(client_secret, str)
            and secrets.compare_digest(client_id, expected.client_id)
            and secrets.compare_digest(client_secret, expected.client_secret)
        )

    def check_access(self, token: str) -> str:
        """``ok`` | ``expired`` | ``unknown`` for a bearer token (revoked tokens are unknown)."""
        if token in self.revoked:
            return "unknown"
        status, _ = self.runtime.tokens.check(token)
        return status

    def issue(self, client_id: str, *, with_refresh: bool) -> dict[str, Any]:
        """A token response body (refresh token only for user grants)."""
        access = self.runtime.tokens.issue_access(client_id, self.token_ttl)
        created = int(time.time())
        self.issued_at[access] = created
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": self.token_ttl,
            "created_at": created,
        }
        if with_refresh:
            refresh = self.runtime.tokens.issue_refresh(client_id)
            self.pair_of[access], self.pair_of[refresh] = refresh, access
            body["refresh_token"] = refresh
        return body

    def issue_code(self, client_id: str, redirect_uri: str) -> str:
        """A single-use authorization code valid for 10 minutes."""
        code = secrets.token_urlsafe(24)
        self.codes[code] = _Code(client_id, redirect_uri, time.time() + CODE_TTL_SECONDS)
        return code

    def revoke(self, token: str) -> None:
        """Kill a token and its pair (either half may be given)."""
        partner = self.pair_of.pop(token, None)
        for victim in (token, partner):
            if victim:
                self.revoked.add(victim)
                self.runtime.tokens.consume_refresh(victim)
        if partner:
            self.pair_of.pop(partner, None)


async def read_form(request: Request) -> dict[str, Any]:
    """The request body as a dict, whether JSON, urlencoded or multipart (as Procore accepts all three)."""
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    if "application/json" in content_type:
        try:
            parsed = json.loads(raw or b"{}")
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    if "multipart/form-data" in content_type:
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
        fields: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name:
                fields[str(name)] = part.get_content().strip() if part.get_content_maintype() == "text" else ""
        return fields
    return dict(parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True))


def _oauth_error(error: str, description: str, status: int) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def oauth_router(server: OAuthServer) -> APIRouter:
    """The login-host routes, bound to ``server``."""
    router = APIRouter()

    @router.post("/oauth/token")
    async def token(request: Request) -> Response:
        form = await read_form(request)
        if not server.client_ok(form.get("client_id"), form.get("client_secret")):
            return _oauth_error("invalid_client", INVALID_CLIENT, 401)
        client_id = str(form["client_id"])
        grant = form.get("grant_type")
        if grant == "client_credentials":
            return JSONResponse(server.issue(client_id, with_refresh=False))
        if grant == "authorization_code":
            code = server.codes.pop(str(form.get("code") or ""), None)
            if (
                code is None
                or code.expires_at < time.time()
                or code.client_id != client_id
                or code.redirect_uri != form.get("redirect_uri", code.redirect_uri)
            ):
                return _oauth_error("invalid_grant", INVALID_GRANT, 400)
            return JSONResponse(server.issue(client_id, with_refresh=True))
        if grant == "refresh_token":
            refresh = str(form.get("refresh_token") or "")
            owner = None if refresh in server.revoked else server.runtime.tokens.consume_refresh(refresh)
            if owner != client_id:
                return _oauth_error("invalid_grant", INVALID_GRANT, 400)
            server.pair_of.pop(refresh, None)
            return JSONResponse(server.issue(client_id, with_refresh=True))
        return _oauth_error(
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
            400,
        )

    @router.get("/oauth/authorize")
    async def authorize(request: Request) -> Response:
        params = request.query_params
        expected = sandbox_client("procore", server.runtime.seed)
        if params.get("client_id") != expected.client_id:
            return _oauth_error("invalid_client", INVALID_CLIENT, 401)
        if params.get("response_type") != "code":
            return _oauth_error(
                "unsupported_response_type",
                "The authorization server does not support this response type.",
                400,
            )
        redirect_uri = params.get("redirect_uri") or OOB_REDIRECT
        code = server.issue_code(expected.client_id, redirect_uri)
        if redirect_uri == OOB_REDIRECT:
            return HTMLResponse(f"<html><body><h1>Authorization code</h1><code>{code}</code></body></html>")
        query = {"code": code, **({"state": params["state"]} if "state" in params else {})}
        separator = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(f"{redirect_uri}{separator}{urlencode(query)}", status_code=302)

    @router.get("/oauth/token/info")
    async def token_info(request: Request) -> Response:
        token_value = bearer_token(request)
        if token_value is None or server.check_access(token_value) != "ok":
            return _oauth_error("invalid_token", "The access token is invalid", 401)
        _, issued = server.runtime.tokens.check(token_value)
        assert issued is not None
        return JSONResponse(
            {
                "resource_owner_id": None,
                "scope": [],
                "expires_in": max(0, int(issued.expires_at - time.time())),
                "application": {"uid": issued.client_id},
                "created_at": server.issued_at.get(token_value),
            }
        )

    @router.post("/oauth/revoke")
    async def revoke(request: Request) -> Response:
        form = await read_form(request)
        if not server.client_ok(form.get("client_id"), form.get("client_secret")):
            return _oauth_error("invalid_client", INVALID_CLIENT, 401)
        server.revoke(str(form.get("token") or ""))
        return JSONResponse({})

    return router


def bearer_token(request: Request) -> str | None:
    """The token from ``Authorization: Bearer …``, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None
