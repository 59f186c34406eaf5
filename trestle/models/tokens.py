"""OAuth tokens kept in the link store, so rotating refresh tokens survive restarts and are
shared safely between processes (the clients' ``TokenStore`` protocol).

Tokens are encrypted at rest (:mod:`trestle.crypto`). Three rules keep a single-use refresh
token from being lost:

* a rotated pair is committed before anything uses it (the authenticator saves first);
* if the database refuses that save, the pair is written, encrypted and 0600, to a *pending* file
  under ``TRESTLE_HOME/tokens/`` and moved into the database by the next load that can write it;
* a configured refresh token (``TRESTLE_PROCORE_REFRESH_TOKEN``) that differs from the one that
  seeded the stored row replaces it: the operator re-authorised, so the new token wins.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from trestle.clients.auth import TokenSet
from trestle.clients.errors import AuthenticationError, describe_exception, remember_secrets
from trestle.crypto import TokenCipher, TokenUndecryptable, cipher_for, fingerprint
from trestle.models.store import LinkStore
from trestle.models.tables import OAuthToken
from trestle.settings import TrestleSettings

logger = logging.getLogger(__name__)

PENDING_DIR_NAME = "tokens"


def reset_command(pair: str) -> str:
    """The one command that re-authorises ``pair`` when its stored token is unusable."""
    return f"trestle tokens reset --pair {pair}"


def token_store_for(settings: TrestleSettings, store: LinkStore) -> DatabaseTokenStore:
    """The token store of ``settings``' install: its key, and pending files under ``home/tokens``."""
    return DatabaseTokenStore(store, cipher_for(settings), pending_dir=settings.home / PENDING_DIR_NAME)


class TokenNotSaved(Exception):
    """A rotated token set reached neither the database nor the pending file."""


class DatabaseTokenStore:
    """``TokenStore`` backed by the ``oauth_tokens`` table; ``key`` is the system name.

    ``pending_dir`` is where a rotated pair the database refused is kept until it can be stored.
    """

    def __init__(
        self, store: LinkStore, cipher: TokenCipher, *, pending_dir: Path | None = None, lock_wait: float = 120.0
    ) -> None:
        self.store = store
        self.cipher = cipher
        self.pending_dir = pending_dir
        self.lock_wait = lock_wait
        self._spent: dict[str, str] = {}  # key -> fingerprint of the refresh token last loaded

    def load(self, key: str) -> TokenSet | None:
        """The newest token set: a pending one the database missed, else the stored row."""
        pending = self._take_pending(key)
        if pending is not None:
            return pending
        row = self.store.load_token(key)
        if row is None or not (row.access_token or row.refresh_token):
            return None
        try:
            access = self.cipher.decrypt(row.access_token) if row.access_token else ""
            refresh = self.cipher.decrypt(row.refresh_token) if row.refresh_token else None
        except TokenUndecryptable:
            raise AuthenticationError(
                system=key,
                status=401,
                method="POST",
                route="token store",
                detail=(
                    f"stored {key} tokens cannot be decrypted: put the old key back in TRESTLE_SECRET_KEY "
                    f"or run `{reset_command(self.store.pair)}`"
                ),
            ) from None
        remember_secrets(access, refresh)
        if refresh:
            self._spent[key] = fingerprint(refresh)
        expires = row.expires_at.timestamp() if row.expires_at else 0.0
        return TokenSet(access, refresh, expires, row.scope)

    def save(self, key: str, tokens: TokenSet, *, configured_fingerprint: str | None = None) -> None:
        """Commit ``tokens``; if the database refuses, keep them in the pending file (and say so)."""
        remember_secrets(tokens.access_token, tokens.refresh_token)
        try:
            self._save_row(key, tokens, configured_fingerprint)
        except SQLAlchemyError as exc:
            path = self._write_pending(key, tokens, exc)
            logger.warning(
                "the database refused the rotated %s tokens of pair %r (%s); they are kept encrypted in %s and "
                "moved into the database by the next run. Keep that file until then; if it is lost, run `%s`",
                key,
                self.store.pair,
                describe_exception(exc),
                path,
                reset_command(self.store.pair),
            )

    def seed(self, key: str, configured_refresh_token: str | None) -> None:
        """Store the configured refresh token if it is new (changed since it last seeded the row)."""
        if not configured_refresh_token:
            return
        remember_secrets(configured_refresh_token)
        configured = fingerprint(configured_refresh_token)
        with self.lock(key):
            row = self.store.load_token(key)
            if row is not None and row.configured_fingerprint == configured:
                return  # the stored row grew from this token (and has rotated since): it is newer
            if row is not None and row.refresh_token and row.configured_fingerprint is None:
                # a row from before fingerprints: adopt the configured token as its seed, keep the row
                self.store.save_token(
                    key,
                    access_token=row.access_token,
                    refresh_token=row.refresh_token,
                    expires_at=row.expires_at,
                    scope=row.scope,
                    configured_fingerprint=configured,
                )
                return
            if row is not None:
                logger.info("a newly configured %s refresh token replaces the stored one (%r)", key, self.store.pair)
            self._drop_pending(key)
            self._save_row(key, TokenSet("", configured_refresh_token, 0.0, None), configured)

    def reset(self, key: str, refresh_token: str) -> None:
        """Replace whatever is stored for ``key`` by ``refresh_token`` (``trestle tokens reset``)."""
        remember_secrets(refresh_token)
        with self.lock(key):
            self._drop_pending(key)
            self._save_row(key, TokenSet("", refresh_token, 0.0, None), fingerprint(refresh_token))

    @contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Serialise refreshes across processes: a refresh token can be spent only once."""
        with self.store.lock(f"token:{key}", ttl=timedelta(minutes=2), wait=self.lock_wait):
            yield

    # ------------------------------------------------------------ internals
    def _save_row(self, key: str, tokens: TokenSet, configured_fingerprint: str | None) -> None:
        expires = datetime.fromtimestamp(tokens.expires_at, UTC) if tokens.expires_at else None
        self.store.save_token(
            key,
            access_token=self.cipher.encrypt(tokens.access_token) if tokens.access_token else None,
            refresh_token=self.cipher.encrypt(tokens.refresh_token) if tokens.refresh_token else None,
            expires_at=expires,
            scope=tokens.scope,
            configured_fingerprint=configured_fingerprint,
        )
        if tokens.refresh_token:
            self._spent[key] = fingerprint(tokens.refresh_token)

    def _pending_path(self, key: str) -> Path | None:
        if self.pending_dir is None:
            return None
        return self.pending_dir / f"{self.store.pair}-{key}.pending"

    def _write_pending(self, key: str, tokens: TokenSet, cause: Exception) -> Path:
        path = self._pending_path(key)
        if path is None:
            raise TokenNotSaved(
                f"the rotated {key} tokens of pair {self.store.pair!r} could not be saved "
                f"({describe_exception(cause)}); after this run, run `{reset_command(self.store.pair)}`"
            ) from None
        payload = {
            "replaces": self._spent.get(key),
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": tokens.expires_at,
            "scope": tokens.scope,
        }
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            draft = path.with_suffix(f".{os.getpid()}.draft")
            descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(self.cipher.encrypt(json.dumps(payload)))
                handle.flush()
                os.fsync(handle.fileno())
            draft.replace(path)
        except OSError as exc:
            raise TokenNotSaved(
                f"the rotated {key} tokens of pair {self.store.pair!r} could not be saved to the database "
                f"({describe_exception(cause)}) nor to {path} ({exc.strerror}); after this run, "
                f"run `{reset_command(self.store.pair)}`"
            ) from None
        return path

    def _take_pending(self, key: str) -> TokenSet | None:
        """A pending token set, moved into the database when possible (still returned if not)."""
        path = self._pending_path(key)
        if path is None or not path.exists():
            return None
        payload = json.loads(self.cipher.decrypt(path.read_text(encoding="ascii")))
        tokens = TokenSet(payload["access_token"], payload["refresh_token"], payload["expires_at"], payload["scope"])
        row = self.store.load_token(key)
        stored_refresh = self.cipher.decrypt(row.refresh_token) if row is not None and row.refresh_token else None
        if stored_refresh and fingerprint(stored_refresh) != payload["replaces"]:
            logger.info("dropping pending %s tokens of pair %r: the database has newer ones", key, self.store.pair)
            path.unlink()
            return None
        remember_secrets(tokens.access_token, tokens.refresh_token)
        try:
            self._save_row(key, tokens, None)
        except SQLAlchemyError as exc:
            logger.warning("the pending %s tokens are still not in the database (%s)", key, describe_exception(exc))
            return tokens
        path.unlink()
        logger.info("moved the pending %s tokens of pair %r into the database", key, self.store.pair)
        return tokens

    def _drop_pending(self, key: str) -> None:
        path = self._pending_path(key)
        if path is not None:
            path.unlink(missing_ok=True)


def rekey_tokens(engine: Engine, cipher: TokenCipher) -> int:
    """Re-encrypt every pair's stored tokens with ``cipher``'s newest key; returns the rows changed."""
    with Session(engine) as session, session.begin():
        rows = list(session.scalars(select(OAuthToken)))
        for row in rows:
            row.access_token = cipher.rotate(row.access_token) if row.access_token else row.access_token
            row.refresh_token = cipher.rotate(row.refresh_token) if row.refresh_token else row.refresh_token
        return len(rows)
