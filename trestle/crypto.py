"""Encryption at rest for the OAuth tokens in the link store (Fernet, with key rotation).

Keys come from ``TRESTLE_SECRET_KEY``: one or more Fernet keys separated by commas, newest
first. The first key encrypts; every key decrypts, so a new key is rotated in by putting it in
front and keeping the old ones behind it until ``trestle tokens rekey`` has re-encrypted the
stored rows (see docs/OPERATIONS.md). ``trestle tokens new-key`` prints a fresh key.

Without ``TRESTLE_SECRET_KEY``, ``TRESTLE_SECRET_KEY_BLOCK`` (the ``secret_key_block`` setting) may
name a Prefect Secret block holding the same comma-separated keys, read when a cipher is made (so
every host and worker that can reach the Prefect API shares them without an environment variable).

Without either:

* with the default SQLite database (one machine), a key is generated once and kept in
  ``TRESTLE_HOME/secret.key`` with 0600 permissions (a warning says so); back it up with the
  database, or the stored tokens must be re-authorised with ``trestle tokens reset``;
* with any other database (PostgreSQL, shared by several hosts), Trestle refuses: each host
  would otherwise make its own key and could not read the others' tokens.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.engine import make_url

from trestle.settings import ConfigError, TrestleSettings, env_name, read_secret_block

logger = logging.getLogger(__name__)

KEY_FILE_NAME = "secret.key"
KEY_VARIABLE = "TRESTLE_SECRET_KEY"


class TokenUndecryptable(Exception):
    """A stored token was encrypted with a key that is not configured (or was tampered with)."""


class TokenCipher:
    """Encrypts and decrypts stored tokens with the configured keys (the first one encrypts)."""

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        try:
            self._fernet = MultiFernet([Fernet(key) for key in keys])
        except (ValueError, TypeError):
            raise ConfigError(
                f"{KEY_VARIABLE}: every key must be a Fernet key (32 url-safe base64 bytes); "
                "make one with `trestle tokens new-key`"
            ) from None

    def __repr__(self) -> str:
        return "TokenCipher(keys='***')"

    def encrypt(self, plain: str) -> str:
        """``plain`` encrypted with the newest key, as text."""
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, stored: str) -> str:
        """The plain text of ``stored``; :class:`TokenUndecryptable` if no configured key opens it."""
        try:
            return self._fernet.decrypt(stored.encode()).decode()
        except InvalidToken:
            raise TokenUndecryptable(
                f"a stored token cannot be decrypted with the keys in {KEY_VARIABLE} (or {KEY_FILE_NAME})"
            ) from None

    def rotate(self, stored: str) -> str:
        """``stored`` re-encrypted with the newest key (decrypted with whichever key opens it)."""
        try:
            return self._fernet.rotate(stored.encode()).decode()
        except InvalidToken:
            raise TokenUndecryptable(f"a stored token cannot be decrypted with the keys in {KEY_VARIABLE}") from None


def new_key() -> str:
    """A fresh Fernet key, as text for ``TRESTLE_SECRET_KEY``."""
    return Fernet.generate_key().decode()


def fingerprint(secret: str) -> str:
    """A stable, one-way fingerprint of a configured token (to notice that it changed).

    Not keyed: it must survive a key rotation. Refresh tokens are long random strings, so the
    digest gives nothing away.
    """
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()


def cipher_for(settings: TrestleSettings) -> TokenCipher:
    """The cipher for ``settings``' install: keys from ``TRESTLE_SECRET_KEY``, its block, else the key file."""
    local = make_url(settings.database_url or "sqlite://").get_backend_name() == "sqlite"
    return install_cipher(settings.home, local_database=local, key_block=settings.secret_key_block)


def install_cipher(home: Path, *, local_database: bool, key_block: str | None = None) -> TokenCipher:
    """Keys from ``TRESTLE_SECRET_KEY``; else from the Prefect Secret block ``key_block``; else, for a
    local (SQLite) database, the key file in ``home``."""
    configured = os.environ.get(KEY_VARIABLE, "")
    if not configured.strip() and key_block:
        configured = read_secret_block(key_block, setting=env_name(("secret_key_block",)), instead=KEY_VARIABLE)
        if not _split_keys(configured):
            raise ConfigError(f"{env_name(('secret_key_block',))}: the Prefect Secret block {key_block!r} is empty")
    keys = _split_keys(configured)
    if keys:
        return TokenCipher(keys)
    if not local_database:
        raise ConfigError(
            f"{KEY_VARIABLE} is not set: stored OAuth tokens are encrypted, and with a shared database "
            f"every host needs the same key. Make one with `trestle tokens new-key` and set {KEY_VARIABLE} "
            f"(or {env_name(('secret_key_block',))}, naming a Prefect Secret block that holds it) "
            "for every process that runs Trestle"
        )
    return TokenCipher([_key_file(home)])


def _split_keys(configured: str) -> list[str]:
    return [key.strip() for key in configured.split(",") if key.strip()]


def _key_file(home: Path) -> str:
    path = home / KEY_FILE_NAME
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    home.mkdir(parents=True, exist_ok=True)
    draft = home / f".{KEY_FILE_NAME}.{os.getpid()}"
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(new_key() + "\n")
    try:
        os.link(draft, path)  # atomic, and fails if another process made the key first: its key wins
        logger.warning(
            "%s is not set: generated a key for the stored OAuth tokens in %s (mode 0600); back it up with "
            "the database, or set %s to your own key",
            KEY_VARIABLE,
            path,
            KEY_VARIABLE,
        )
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path.read_text(encoding="ascii").strip()
