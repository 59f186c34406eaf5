"""Signed, expiring cookies: the session of a signed-in person and the login in progress.

A cookie is ``base64url(JSON) "." base64url(HMAC-SHA256)`` under the portal's session key; the
JSON carries its own expiry, so a copied cookie dies on time even if a browser keeps it. Nothing
secret goes in a cookie (it is signed, not encrypted): who signed in, which pairs they may see and
run, a CSRF token, and during login the OAuth ``state`` and PKCE verifier (useless without the
one-time code Procore sends to this browser).

The key is ``[portal] session_secret``, else a random key kept in ``<home>/portal/session.key``
(mode 0600) so sessions outlive a restart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SESSION_COOKIE = "trestle_session"
LOGIN_COOKIE = "trestle_login"
LOGIN_SECONDS = 600


class BadCookie(Exception):
    """A cookie that is missing, forged, malformed or expired."""


@dataclass(frozen=True)
class Session:
    """Who is signed in and what they may do, per pair: ``{"pair": "view" | "run"}``."""

    user_id: int
    name: str
    email: str
    pairs: dict[str, str]
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    expires: float = 0.0

    def can_see(self, pair: str) -> bool:
        return pair in self.pairs

    def can_run(self, pair: str) -> bool:
        return self.pairs.get(pair) == "run"


class CookieSigner:
    """Signs and checks JSON payloads with one key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def dumps(self, payload: dict[str, Any], lifetime: float) -> str:
        body = dict(payload, exp=time.time() + lifetime)
        data = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
        return f"{data}.{_b64(self._mac(data))}"

    def loads(self, cookie: str | None) -> dict[str, Any]:
        if not cookie or "." not in cookie:
            raise BadCookie("no cookie")
        data, _, mac = cookie.partition(".")
        if not hmac.compare_digest(_b64(self._mac(data)), mac):
            raise BadCookie("bad signature")
        try:
            payload = json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
        except ValueError as exc:
            raise BadCookie("malformed") from exc
        if not isinstance(payload, dict) or float(payload.get("exp", 0)) < time.time():
            raise BadCookie("expired")
        return payload

    def session_cookie(self, session: Session, lifetime: float) -> str:
        return self.dumps(asdict(session), lifetime)

    def session(self, cookie: str | None) -> Session:
        payload = self.loads(cookie)
        try:
            return Session(
                user_id=int(payload["user_id"]),
                name=str(payload["name"]),
                email=str(payload["email"]),
                pairs={str(k): str(v) for k, v in dict(payload["pairs"]).items()},
                csrf=str(payload["csrf"]),
                expires=float(payload["exp"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BadCookie("not a session") from exc

    def _mac(self, data: str) -> bytes:
        return hmac.new(self._key, data.encode("ascii"), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def session_key(configured: str | None, home: Path) -> bytes:
    """The configured secret, else the install's kept random key (created on first use)."""
    if configured:
        return hashlib.sha256(configured.encode()).digest()
    path = home / "portal" / "session.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # made earlier, or by another process just now
        pass
    else:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())
