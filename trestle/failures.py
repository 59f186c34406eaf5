"""Expected failures in one line each: what went wrong, the setting that decides it, and the fix.

``trestle`` prints :func:`explain`'s line and exits 2 without a traceback (``--debug`` shows
it); ``trestle doctor`` uses the same words. An exception this module does not know is a bug,
and keeps its traceback. Nothing here repeats a password or secret: database URLs are shown
with the password hidden and client errors are redacted where they are raised.
"""

from __future__ import annotations

from trestle.clients.errors import (
    AuthenticationError,
    ConnectionFailedError,
    ForbiddenError,
    TransportError,
)
from trestle.db import SchemaOutOfDate
from trestle.settings import ConfigError

DATABASE_SETTING = "TRESTLE_DATABASE_URL"
SUPPORTED_DATABASES = "sqlite:///path/to/trestle.db or postgresql://user@host:5432/dbname"


def explain(exc: BaseException, database_url: str | None = None) -> str | None:
    """The one line for an expected failure, or None for anything else (a bug: keep the traceback)."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

    if isinstance(exc, ConfigError | SchemaOutOfDate):
        return str(exc)
    if isinstance(exc, NoSuchModuleError | ArgumentError):
        return (
            f"{DATABASE_SETTING}: unsupported database URL {_safe(database_url)} "
            f"({first_line(exc)}); use {SUPPORTED_DATABASES}"
        )
    if isinstance(exc, OperationalError):
        return f"{DATABASE_SETTING}: cannot use the database {_safe(database_url)}: {database_reason(exc)}"
    if isinstance(exc, ConnectionFailedError | TransportError):
        system = exc.system.upper()
        return (
            f"{exc.system}: {exc.message}; check TRESTLE_{system}_API_URL and the "
            f"{'IDENTITY' if system == 'XERO' else 'LOGIN'}_URL, and that this machine can reach them"
        )
    if isinstance(exc, AuthenticationError):
        system = exc.system.upper()
        return (
            f"{exc.system} refused the credentials ({exc.detail or exc.status}): check TRESTLE_{system}_CLIENT_ID "
            f"and TRESTLE_{system}_CLIENT_SECRET (or its _BLOCK); a dead refresh token needs a new one"
        )
    if isinstance(exc, ForbiddenError) and exc.system == "xero":
        return (
            f"xero: the app is not connected to the organisation in TRESTLE_XERO_TENANT_ID ({exc.detail or 403}); "
            "set it to one of the app's connections (GET https://api.xero.com/connections)"
        )
    return None


def database_reason(exc: BaseException) -> str:
    """The database driver's own reason with a fix: refused, missing database, bad login."""
    reason = first_line(getattr(exc, "orig", None) or exc)
    lowered = reason.lower()
    if "does not exist" in lowered and "database" in lowered:
        return f"{reason} (create it, e.g. `createdb`, or fix the name in the URL; then `trestle db upgrade`)"
    if "connection refused" in lowered or "could not connect" in lowered or "no route" in lowered:
        return f"{reason} (is the database server running and listening there?)"
    if "password authentication failed" in lowered or "authentication" in lowered:
        return f"{reason} (fix the user or password in the URL)"
    if "unable to open database file" in lowered:
        return f"{reason} (the folder must exist and be writable)"
    return reason


def first_line(exc: BaseException | object) -> str:
    """The first non-empty line of an exception's text (drivers append hints and SQL)."""
    text = str(exc).strip()
    for line in text.splitlines():
        if line.strip():
            return line.strip().removeprefix("(psycopg.OperationalError) ")
    return type(exc).__name__


def _safe(url: str | None) -> str:
    if not url:
        return "(unset)"
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # unparseable: show only the scheme
        return url.split(":", 1)[0] + ":…"
