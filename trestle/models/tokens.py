"""OAuth tokens kept in the link store, so rotating refresh tokens survive restarts and are
shared safely between processes (the clients' ``TokenStore`` protocol)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from trestle.clients.auth import TokenSet
from trestle.models.store import LinkStore


class DatabaseTokenStore:
    """``TokenStore`` backed by the ``oauth_tokens`` table; ``key`` is the system name."""

    def __init__(self, store: LinkStore, *, lock_wait: float = 120.0) -> None:
        self.store = store
        self.lock_wait = lock_wait

    def load(self, key: str) -> TokenSet | None:
        row = self.store.load_token(key)
        if row is None or not (row.access_token or row.refresh_token):
            return None
        expires = row.expires_at.timestamp() if row.expires_at else 0.0
        return TokenSet(row.access_token or "", row.refresh_token, expires, row.scope)

    def save(self, key: str, tokens: TokenSet) -> None:
        expires = datetime.fromtimestamp(tokens.expires_at, UTC) if tokens.expires_at else None
        self.store.save_token(
            key,
            access_token=tokens.access_token or None,
            refresh_token=tokens.refresh_token,
            expires_at=expires,
            scope=tokens.scope,
        )

    @contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Serialise refreshes across processes: a refresh token can be spent only once."""
        with self.store.lock(f"token:{key}", ttl=timedelta(minutes=2), wait=self.lock_wait):
            yield
