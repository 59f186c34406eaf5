"""Xero identity: the token endpoint, the browser authorize step, ``/connections``, and the
checks every accounting call passes (Bearer token, tenant header).

Token endpoint (``POST /connect/token``, a form): client credentials are read from HTTP Basic or
from ``client_id``/``client_secret`` form fields. ``client_credentials`` gives a 30-minute access
token and no refresh token (a custom connection). ``authorization_code`` and ``refresh_token``
give a rotating refresh token too; a rotated-out refresh token stays usable for a 30-minute
grace period, after which it is ``invalid_grant``.

Tenant header choice: Xero's FAQ says custom connections need no ``xero-tenant-id``. So a
token from ``client_credentials`` may omit the header (it then means the one organisation), but
a header that is sent must match; tokens from the standard-app flow must always send it. A
missing or wrong header gets 403 ``AuthenticationUnsuccessful``, as does any call after the
connection was deleted with ``DELETE /connections/{id}``.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from trestle.sandbox.common import SandboxRuntime, sandbox_client
from trestle.sandbox.xero.state import XeroState
from trestle.sandbox.xero.wire import problem

ACCESS_TOKEN_SECONDS = 1800
REFRESH_GRACE_SECONDS = 1800
DEFAULT_SCOPE = (
    "accounting.transactions accounting.contacts accounting.settings accounting.attachments "
    "accounting.invoices accounting.payments"
)


def _error(code: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": code}, status_code=status)


def _iso7(moment: datetime) -> str:
    """``/connections`` timestamps: ISO with 7 fractional digits and no zone."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"


class XeroIdentity:
    """Issues and checks tokens for one simulator app."""

    def __init__(self, runtime: SandboxRuntime, state_getter: Callable[[], XeroState]) -> None:
        self.runtime = runtime
        self.state = state_getter
        self._custom_tokens: set[str] = set()
        self._retired_refresh: dict[str, tuple[str, float]] = {}  # token -> (client_id, retired_at)

    @property
    def client(self) -> tuple[str, str]:
        accepted = sandbox_client("xero", self.runtime.seed)
        return accepted.client_id, accepted.client_secret

    def _client_from(self, request: Request, form: dict[str, str]) -> str | None:
        """The authenticated client id, from Basic auth or form fields; None if wrong."""
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:].strip()).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
            client_id, _, client_secret = decoded.partition(":")
        expected_id, expected_secret = self.client
        if secrets.compare_digest(client_id, expected_id) and secrets.compare_digest(client_secret, expected_secret):
            return client_id
        return None

    def _use_refresh(self, token: str) -> str | None:
        client_id = self.runtime.tokens.consume_refresh(token)
        if client_id is not None:
            self._retired_refresh[token] = (client_id, time.time())
            return client_id
        retired = self._retired_refresh.get(token)
        if retired and time.time() - retired[1] < REFRESH_GRACE_SECONDS:
            return retired[0]
        return None

    async def token(self, request: Request) -> Response:
        """``POST /connect/token``."""
        # The token endpoint takes application/x-www-form-urlencoded only; parsed with the stdlib
        # so the simulator does not need python-multipart.
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
        client_id = self._client_from(request, form)
        if client_id is None:
            return _error("invalid_client")
        grant = form.get("grant_type", "")
        scope = form.get("scope") or DEFAULT_SCOPE
        if grant == "client_credentials":
            access = self.runtime.tokens.issue_access(client_id, ACCESS_TOKEN_SECONDS, scope)
            self._custom_tokens.add(access)
            return JSONResponse(
                {"access_token": access, "expires_in": ACCESS_TOKEN_SECONDS, "token_type": "Bearer", "scope": scope}
            )
        if grant == "authorization_code":
            if self.runtime.tokens.consume_code(form.get("code", "")) != client_id:
                return _error("invalid_grant")
        elif grant == "refresh_token":
            if self._use_refresh(form.get("refresh_token", "")) != client_id:
                return _error("invalid_grant")
        else:
            return _error("unsupported_grant_type")
        access = self.runtime.tokens.issue_access(client_id, ACCESS_TOKEN_SECONDS, scope)
        refresh = self.runtime.tokens.issue_refresh(client_id)
        return JSONResponse(
            {
                "access_token": access,
                "expires_in": ACCESS_TOKEN_SECONDS,
                "token_type": "Bearer",
                "refresh_token": refresh,
                "scope": scope,
            }
        )

    def authorize(self, request: Request) -> Response:
        """``GET /identity/connect/authorize``: approve at once and redirect back with a code."""
        params = request.query_params
        redirect_uri = params.get("redirect_uri")
        if params.get("client_id") != self.client[0] or not redirect_uri:
            return _error("invalid_request")
        code = self.runtime.tokens.issue_code(self.client[0])
        query = {"code": code, "scope": params.get("scope", DEFAULT_SCOPE)}
        if params.get("state") is not None:
            query["state"] = params["state"]
        separator = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(f"{redirect_uri}{separator}{urlencode(query)}", status_code=302)

    def bearer(self, request: Request) -> tuple[Response | None, str | None]:
        """Check the Bearer token: ``(error response or None, token)``."""
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        verdict, issued = self.runtime.tokens.check(token) if token else ("unknown", None)
        if verdict == "expired" and issued is not None:
            moment = datetime.fromtimestamp(issued.expires_at, UTC).strftime("%m/%d/%Y %H:%M:%S")
            return problem(401, "Unauthorized", f"TokenExpired: token expired at {moment}"), None
        if verdict != "ok":
            return problem(401, "Unauthorized", "AuthenticationUnsuccessful"), None
        return None, token

    def check_accounting(self, request: Request) -> tuple[Response | None, str]:
        """Bearer plus tenant checks for an accounting call: ``(error or None, tenant id)``."""
        failure, token = self.bearer(request)
        if failure is not None:
            return failure, ""
        state = self.state()
        sent = request.headers.get("xero-tenant-id")
        header_optional = token in self._custom_tokens
        tenant_ok = (sent or "").strip().lower() == state.tenant_id.lower() or (sent is None and header_optional)
        if not tenant_ok or not state.connected:
            return problem(403, "Forbidden", "AuthenticationUnsuccessful"), ""
        return None, state.tenant_id

    def connection_id(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"trestle-xero-connection-{self.state().tenant_id}"))

    def router(self) -> APIRouter:
        """Routes for the token endpoint, authorize and ``/connections``."""
        router = APIRouter(include_in_schema=False)

        @router.post("/connect/token")
        async def token(request: Request) -> Response:
            return await self.token(request)

        @router.get("/identity/connect/authorize")
        async def authorize(request: Request) -> Response:
            return self.authorize(request)

        @router.get("/connections")
        async def connections(request: Request) -> Response:
            failure, _ = self.bearer(request)
            if failure is not None:
                return failure
            state = self.state()
            if not state.connected:
                return JSONResponse([])
            created = _iso7(state.connection_created)
            return JSONResponse(
                [
                    {
                        "id": self.connection_id(),
                        "authEventId": str(uuid.uuid5(uuid.NAMESPACE_URL, created)),
                        "tenantId": state.tenant_id,
                        "tenantType": "ORGANISATION",
                        "tenantName": state.organisation["Name"],
                        "createdDateUtc": created,
                        "updatedDateUtc": created,
                    }
                ]
            )

        @router.delete("/connections/{connection_id}")
        async def disconnect(connection_id: str, request: Request) -> Response:
            failure, _ = self.bearer(request)
            if failure is not None:
                return failure
            state = self.state()
            if connection_id.lower() != self.connection_id() or not state.connected:
                return Response(status_code=404)
            state.connected = False
            state.changed()
            return Response(status_code=204)

        return router
