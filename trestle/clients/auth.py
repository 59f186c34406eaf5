"""OAuth 2 authenticators for the API clients.

Two shapes cover both systems:

* :class:`ClientCredentialsAuthenticator` – machine-to-machine tokens (Xero custom connection,
  Procore DMSA). No refresh token: a new access token is simply requested when the old one is
  about to expire or the API rejects it.
* :class:`RefreshTokenAuthenticator` – user-authorised apps whose refresh tokens rotate and are
  single-use (Procore) or rotate with a short grace period (Xero). Several processes may share the
  same grant, so the newest token set always lives in a :class:`TokenStore`, refreshes happen under
  the store's lock, and the new pair is saved *before* the access token is used. If the save
  fails, the run goes on with the new pair (the old one is already spent) and the log says what
  to do; a refused refresh names the one command that re-authorises.

Every client secret and every token obtained is handed to
:func:`trestle.clients.errors.remember_secrets`, so no log line or error text can carry it.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import httpx

from trestle.clients.errors import (
    AuthenticationError,
    ConnectionFailedError,
    MalformedResponseError,
    ServerError,
    TransportError,
    describe_exception,
    excerpt,
    remember_secrets,
)
from trestle.clients.tls import tls_context

logger = logging.getLogger(__name__)

EXPIRY_MARGIN_SECONDS = 60.0
"""Tokens are renewed this long before the expiry the server announced."""


@dataclass(frozen=True)
class TokenSet:
    """One grant's tokens; ``expires_at`` is wall-clock unix seconds. Its repr never shows tokens."""

    access_token: str
    refresh_token: str | None
    expires_at: float
    scope: str | None = None

    def __repr__(self) -> str:
        refresh = "'***'" if self.refresh_token else "None"
        return (
            f"TokenSet(access_token='***', refresh_token={refresh}, "
            f"expires_at={self.expires_at!r}, scope={self.scope!r})"
        )

    __str__ = __repr__

    def is_fresh(self, now: float, margin: float = EXPIRY_MARGIN_SECONDS) -> bool:
        """Whether the access token stays valid for at least ``margin`` more seconds."""
        return now < self.expires_at - margin


class TokenStore(Protocol):
    """Where rotating token sets live between runs and across processes."""

    def load(self, key: str) -> TokenSet | None:
        """The newest token set saved under ``key``, or None."""

    def save(self, key: str, tokens: TokenSet) -> None:
        """Persist ``tokens`` under ``key`` (durably, before returning)."""

    def lock(self, key: str) -> AbstractContextManager[Any]:
        """A lock held while one process reads, refreshes and saves ``key``."""


class MemoryTokenStore:
    """A process-local :class:`TokenStore` (tests, single-process runs)."""

    def __init__(self, initial: dict[str, TokenSet] | None = None) -> None:
        self._tokens: dict[str, TokenSet] = dict(initial or {})
        self._locks: dict[str, threading.RLock] = {}
        self._guard = threading.Lock()
        self.saves = 0

    def load(self, key: str) -> TokenSet | None:
        """The newest token set saved under ``key``."""
        with self._guard:
            return self._tokens.get(key)

    def save(self, key: str, tokens: TokenSet) -> None:
        """Replace the token set under ``key``."""
        with self._guard:
            self._tokens[key] = tokens
            self.saves += 1

    @contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Serialise refreshes of ``key`` within this process."""
        with self._guard:
            key_lock = self._locks.setdefault(key, threading.RLock())
        with key_lock:
            yield


class Authenticator(ABC):
    """Supplies the Authorization header and forgets a token the API has rejected."""

    @abstractmethod
    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate the next request (fetching or refreshing a token if needed)."""

    @abstractmethod
    def invalidate(self) -> None:
        """Drop the current access token so the next :meth:`auth_headers` obtains a new one."""


class StaticTokenAuthenticator(Authenticator):
    """A fixed bearer token (scripts, tests). :meth:`invalidate` cannot help, so 401s surface at once."""

    def __init__(self, access_token: str) -> None:
        self._access_token = access_token

    def __repr__(self) -> str:
        return "StaticTokenAuthenticator(access_token='***')"

    def auth_headers(self) -> dict[str, str]:
        """The bearer header for the fixed token."""
        return {"Authorization": f"Bearer {self._access_token}"}

    def invalidate(self) -> None:
        """Nothing to renew."""


def _system_for(token_url: str) -> str:
    return "procore" if "procore" in (urlsplit(token_url).hostname or "") else "xero"


class _OAuthTokenClient:
    """Posts to a token endpoint and turns its answer into a :class:`TokenSet` or a typed error."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        credentials_in: Literal["basic", "body"],
        system: str | None,
        transport: httpx.BaseTransport | None,
        timeout: float,
        clock: Callable[[], float],
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self.credentials_in = credentials_in
        self.system = system or _system_for(token_url)
        self.clock = clock
        remember_secrets(client_secret)
        self._http = httpx.Client(
            transport=transport, timeout=httpx.Timeout(timeout, connect=min(timeout, 4.0)), verify=tls_context()
        )

    def request_tokens(self, form: dict[str, str], *, previous_refresh: str | None = None) -> TokenSet:
        secrets = (self._client_secret, form.get("refresh_token"))
        data = dict(form)
        auth = httpx.Auth()  # the base class sends the request unchanged
        if self.credentials_in == "basic":
            auth = httpx.BasicAuth(self.client_id, self._client_secret)
        else:
            data |= {"client_id": self.client_id, "client_secret": self._client_secret}
        route = "/connect/token" if self.system == "xero" else "/oauth/token"
        try:
            response = self._http.post(self.token_url, data=data, auth=auth, headers={"Accept": "application/json"})
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            from trestle.clients.http import connect_reason

            raise ConnectionFailedError(
                f"{self.system} token endpoint {self.token_url}: cannot connect ({connect_reason(exc)})",
                system=self.system,
            ) from None
        except httpx.HTTPError as exc:
            raise TransportError(
                f"{self.system} token endpoint unreachable: {type(exc).__name__}", system=self.system
            ) from None
        body_text = excerpt(response.text)
        for secret in secrets:
            if secret:
                body_text = body_text.replace(secret, "***")
        if response.status_code >= 500:
            raise ServerError(
                system=self.system, status=response.status_code, method="POST", route=route, detail=body_text
            )
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code >= 400:
            code = payload.get("error") if isinstance(payload, dict) else None
            raise AuthenticationError(
                system=self.system,
                status=response.status_code,
                method="POST",
                route=route,
                detail=f"token request refused ({code or 'no error code'})",
            )
        if not isinstance(payload, dict) or not isinstance(payload.get("access_token"), str):
            raise MalformedResponseError(
                f"{self.system} POST {route}: token response has no access_token",
                system=self.system,
                route=route,
                body_excerpt="(withheld: token response)",
            )
        expires_in = float(payload.get("expires_in") or 1800)
        remember_secrets(payload["access_token"], payload.get("refresh_token"))
        return TokenSet(
            access_token=payload["access_token"],
            refresh_token=payload.get("refresh_token") or previous_refresh,
            expires_at=self.clock() + expires_in,
            scope=payload.get("scope"),
        )

    def close(self) -> None:
        self._http.close()


class ClientCredentialsAuthenticator(Authenticator):
    """``grant_type=client_credentials`` with the token cached until ``expires_in`` − 60 s.

    ``credentials_in="basic"`` sends the client id/secret as HTTP Basic (Xero accepts this and the
    form body); ``"body"`` sends them as form fields (Procore DMSA, xero-python). ``system`` defaults
    to ``"procore"`` when the token URL's host mentions Procore, else ``"xero"``.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | None = None,
        credentials_in: Literal["basic", "body"] = "basic",
        system: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._oauth = _OAuthTokenClient(
            token_url,
            client_id,
            client_secret,
            credentials_in=credentials_in,
            system=system,
            transport=transport,
            timeout=timeout,
            clock=clock,
        )
        self.scope = scope
        self._tokens: TokenSet | None = None
        self._lock = threading.Lock()
        self.token_requests = 0

    def __repr__(self) -> str:
        return (
            f"ClientCredentialsAuthenticator(token_url={self._oauth.token_url!r}, "
            f"client_id={self._oauth.client_id!r}, client_secret='***')"
        )

    def auth_headers(self) -> dict[str, str]:
        """Bearer header with a cached or newly requested token."""
        with self._lock:
            if self._tokens is None or not self._tokens.is_fresh(self._oauth.clock()):
                form = {"grant_type": "client_credentials"}
                if self.scope:
                    form["scope"] = self.scope
                self._tokens = self._oauth.request_tokens(form)
                self.token_requests += 1
                logger.info("%s: obtained a client-credentials access token", self._oauth.system)
            return {"Authorization": f"Bearer {self._tokens.access_token}"}

    def invalidate(self) -> None:
        """Forget the cached token."""
        with self._lock:
            self._tokens = None


class RefreshTokenAuthenticator(Authenticator):
    """Rotating refresh tokens shared through a :class:`TokenStore`.

    Under ``store.lock(key)`` the newest token set is re-read (another process may already have
    rotated it); if its access token is still good and was not rejected, it is used as is,
    otherwise the refresh token is spent and the new pair saved before anything uses it.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        store: TokenStore,
        key: str,
        credentials_in: Literal["basic", "body"] = "body",
        system: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
        reauthorise: str = "trestle tokens reset",
    ) -> None:
        self._oauth = _OAuthTokenClient(
            token_url,
            client_id,
            client_secret,
            credentials_in=credentials_in,
            system=system,
            transport=transport,
            timeout=timeout,
            clock=clock,
        )
        self.store = store
        self.key = key
        self.reauthorise = reauthorise
        self._tokens: TokenSet | None = None
        self._rejected_access_token: str | None = None
        self._lock = threading.Lock()
        self.refreshes = 0

    def __repr__(self) -> str:
        return (
            f"RefreshTokenAuthenticator(token_url={self._oauth.token_url!r}, "
            f"client_id={self._oauth.client_id!r}, key={self.key!r}, client_secret='***')"
        )

    def auth_headers(self) -> dict[str, str]:
        """Bearer header, refreshing (and persisting the rotated pair) when needed."""
        with self._lock:
            now = self._oauth.clock()
            if self._tokens is None or not self._tokens.is_fresh(now):
                self._tokens = self._newest_usable_tokens()
            return {"Authorization": f"Bearer {self._tokens.access_token}"}

    def invalidate(self) -> None:
        """Mark the current access token as rejected so the next call refreshes."""
        with self._lock:
            if self._tokens is not None:
                self._rejected_access_token = self._tokens.access_token
            self._tokens = None

    def _newest_usable_tokens(self) -> TokenSet:
        system = self._oauth.system
        with self.store.lock(self.key):
            current = self.store.load(self.key)
            if current is None or not current.refresh_token:
                raise AuthenticationError(
                    system=system,
                    status=401,
                    method="POST",
                    route="token store",
                    detail=f"no refresh token stored under {self.key!r}; authorise the app again: `{self.reauthorise}`",
                )
            usable = current.is_fresh(self._oauth.clock())
            if usable and current.access_token != self._rejected_access_token:
                return current
            try:
                rotated = self._oauth.request_tokens(
                    {"grant_type": "refresh_token", "refresh_token": current.refresh_token},
                    previous_refresh=current.refresh_token,
                )
            except AuthenticationError as refused:
                raise AuthenticationError(
                    system=system,
                    status=refused.status,
                    method=refused.method,
                    route=refused.route,
                    detail=f"{refused.detail}; the stored refresh token no longer works: run `{self.reauthorise}`",
                ) from None
            self.refreshes += 1
            try:
                self.store.save(self.key, rotated)
            except Exception as exc:  # the old token is spent: use the new pair now, say how to recover
                logger.error(
                    "%s: the rotated token set could not be saved (%s); this run goes on with it, "
                    "but the next one cannot: afterwards run `%s`",
                    system,
                    describe_exception(exc),
                    self.reauthorise,
                )
                return rotated
            logger.info("%s: refreshed and stored a rotated token set under %r", system, self.key)
            return rotated
