"""Exceptions raised by the Procore and Xero clients.

Every error carries ``system`` (``"xero"`` or ``"procore"``) so a run report can say which side failed.
The hierarchy tells the caller what to do next::

    TrestleApiError                      base class; .system
    ├── TransportError                   no response at all (connect/read failure); retriable
    │   └── ConnectionFailedError        no connection (refused, unknown host, connect timeout): not retried for long
    ├── OutcomeUnknownError              a non-idempotent write whose answer was lost: reconcile, never resend
    ├── MalformedResponseError           a body that is not JSON or lacks the expected envelope
    └── ApiResponseError                 the server answered; .status .method .route .detail
        ├── RetriableApiError            .retry_after (seconds, if the server said)
        │   ├── ServerError              5xx
        │   └── RateLimitedError         429 minute/spike/concurrent limit; .problem
        └── FatalApiError                do not retry
            ├── AuthenticationError      401 after one forced token refresh; invalid_client/invalid_grant
            ├── ForbiddenError           403
            ├── NotFoundError            404
            ├── ConflictError            409
            ├── BadRequestError          any other 4xx
            ├── ValidationFailed         Xero 400 ValidationException, Procore 422; .messages .elements
            └── DailyLimitExceeded       Xero 429 with X-Rate-Limit-Problem: day (never slept on)

No text or repr of these exceptions contains an access token, refresh token, client secret or an
Authorization header: every server-provided snippet passes through :func:`redact` first.

:func:`redact` is the one redaction of the whole project. Besides credential-shaped text it masks
every value handed to :func:`remember_secrets` (configured secrets, issued tokens, the database
password); :func:`describe_exception` is how any exception becomes text for a report, an email,
an artifact or the runs table; and once a secret is remembered every log record is redacted as
it is created, tracebacks included.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

_KEYWORDS = ("access_token", "refresh_token", "id_token", "client_secret", "password", "authorization")
_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"),
    re.compile(rf"(?i)(\"?(?:{'|'.join(_KEYWORDS)})\"?\s*[:=]\s*\"?)" r"[^\"&,\s}]+"),
    re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@"),  # scheme://user:password@host
)
_EXCERPT_LENGTH = 200
_SHORTEST_SECRET = 6  # shorter values would mask ordinary words; they are not credentials anyway
_REMEMBERED_LIMIT = 64  # a long-lived server issues many tokens: keep the newest (older ones have expired)

_remembered: dict[str, None] = {}
_remembered_pattern: re.Pattern[str] | None = None
_remembered_lock = threading.Lock()
_record_factory_installed = False


def remember_secrets(*secrets: str | None) -> None:
    """Have :func:`redact` (and so every log record from now on) mask each of ``secrets``."""
    global _record_factory_installed, _remembered_pattern
    with _remembered_lock:
        changed = False
        for secret in secrets:
            if not secret or len(secret) < _SHORTEST_SECRET:
                continue
            if secret in _remembered:  # recently used again: the last to be forgotten
                del _remembered[secret]
            else:
                changed = True
            _remembered[secret] = None
        while len(_remembered) > _REMEMBERED_LIMIT:
            del _remembered[next(iter(_remembered))]
            changed = True
        if changed:
            _remembered_pattern = _alternation(_remembered)
        if not _record_factory_installed:
            _install_record_factory()
            _record_factory_installed = True


def _alternation(secrets: Iterable[str]) -> re.Pattern[str] | None:
    ordered = sorted(set(secrets), key=len, reverse=True)  # a longer secret containing a shorter one first
    return re.compile("|".join(re.escape(secret) for secret in ordered)) if ordered else None


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Mask credentials in ``text``: bearer/basic values, token-looking key/value pairs, URL
    passwords, ``secrets`` and every remembered secret."""
    extra = [secret for secret in secrets if secret]
    if extra:
        text = _alternation(extra).sub("***", text)  # type: ignore[union-attr]
    if _remembered_pattern is not None:
        text = _remembered_pattern.sub("***", text)
    lowered = text.lower()
    if "bearer" in lowered or "basic" in lowered:
        text = _SECRET_PATTERNS[0].sub(lambda m: f"{m.group(1)} ***", text)
    if any(keyword in lowered for keyword in _KEYWORDS):
        text = _SECRET_PATTERNS[1].sub(lambda m: f"{m.group(1)}***", text)
    if "://" in text and "@" in text:
        text = _SECRET_PATTERNS[2].sub(lambda m: f"{m.group(1)}***@", text)
    return text


def describe_exception(exc: BaseException) -> str:
    """``exc`` as one redacted line for a report, an email, an artifact or the runs table.

    A pydantic ``ValidationError`` (a record or an answer of an unexpected shape) is named by
    its fields and reasons, without pydantic's input values (a record's data) or its
    documentation links; any other text is folded onto one line.
    """
    if isinstance(exc, ValidationError):
        text = _validation_text(exc)
    else:
        text = str(exc) if isinstance(exc, TrestleApiError) else f"{type(exc).__name__}: {exc}"
    return redact(" ".join(text.split()))


_VALIDATION_PROBLEMS_SHOWN = 3


def _validation_text(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    problems = [f"{'.'.join(str(part) for part in error['loc']) or 'value'}: {error['msg']}" for error in errors]
    more = len(problems) - _VALIDATION_PROBLEMS_SHOWN
    shown = "; ".join(problems[:_VALIDATION_PROBLEMS_SHOWN]) + (f"; and {more} more" if more > 0 else "")
    return f"{exc.title} is not valid ({len(problems)} problem{'s' if len(problems) != 1 else ''}): {shown}"


def _install_record_factory() -> None:
    """Wrap the log record factory so each record's message and traceback are redacted at birth."""
    make_record = logging.getLogRecordFactory()

    def redacting_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: leave it to the logging module to report
            return record
        redacted = redact(message)
        if redacted != message:  # untouched records keep their args (some formatters read them)
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[1] is not None:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            if (cleaned := redact(text)) != text:
                record.exc_text = cleaned
        return record

    logging.setLogRecordFactory(redacting_record)


def excerpt(text: str, limit: int = _EXCERPT_LENGTH) -> str:
    """A short, single-line, redacted excerpt of a response body for error messages."""
    flat = " ".join(text.split())
    flat = redact(flat)
    return flat if len(flat) <= limit else flat[:limit] + "…"


class TrestleApiError(Exception):
    """Base class of every client error; ``system`` says which API raised it."""

    def __init__(self, message: str, *, system: str) -> None:
        super().__init__(redact(message))
        self.system = system

    @property
    def message(self) -> str:
        """The (already redacted) message."""
        return str(self.args[0]) if self.args else ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(system={self.system!r}, message={self.message!r})"


class TransportError(TrestleApiError):
    """The request got no HTTP response (connection refused, reset, timed out). Safe to retry reads."""


class ConnectionFailedError(TransportError):
    """No connection could be made (refused, unknown host, connect timeout): a setting or the network.

    The client tries once more after a short pause, then gives up; stages do not retry it, so a
    wrong URL fails a run within seconds instead of minutes.
    """


class OutcomeUnknownError(TrestleApiError):
    """A non-idempotent write was sent but its response was lost (timeout, 502, 504).

    The write may or may not have happened; the caller must look the record up (by origin id,
    number, reference) before deciding to send it again.
    """

    def __init__(self, message: str, *, system: str, method: str, route: str) -> None:
        super().__init__(message, system=system)
        self.method = method
        self.route = route


class MalformedResponseError(TrestleApiError):
    """The server's answer could not be used: not JSON, or not the shape the API documents."""

    def __init__(self, message: str, *, system: str, route: str, body_excerpt: str = "") -> None:
        super().__init__(message, system=system)
        self.route = route
        self.body_excerpt = redact(body_excerpt)


class ApiResponseError(TrestleApiError):
    """The server answered with an error status."""

    def __init__(self, *, system: str, status: int, method: str, route: str, detail: str = "") -> None:
        self.status = status
        self.method = method
        self.route = route
        self.detail = excerpt(detail) if detail else ""
        text = f"{system} {method} {route} answered {status}"
        super().__init__(f"{text}: {self.detail}" if self.detail else text, system=system)


class RetriableApiError(ApiResponseError):
    """A transient failure: the same request may succeed later."""

    def __init__(self, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.retry_after = retry_after


class ServerError(RetriableApiError):
    """5xx from the API; ``strict_violation`` when a sandbox marked it as its strict-mode refusal."""

    def __init__(self, *, strict_violation: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.strict_violation = strict_violation


class RateLimitedError(RetriableApiError):
    """429 for a short window (minute, spike, concurrent); ``problem`` names the limit if given."""

    def __init__(self, *, problem: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.problem = problem


class FatalApiError(ApiResponseError):
    """A failure that retrying the same request will not fix."""


STRICT_VIOLATION_HEADER = "X-Sandbox-Strict-Violation"
"""Sent only by Trestle's sandboxes, on the 500 that replaces an answer breaking the official spec.
No real API sends it, so on Procore and Xero nothing depends on it."""


class StrictViolationAnswer(FatalApiError):
    """A read a sandbox answered with its strict-mode 500: the same request gets the same broken
    answer, so it is not retried (by the client or a stage) and the test behind it fails at once."""


class AuthenticationError(FatalApiError):
    """Credentials rejected: 401 even after a fresh token, or the token endpoint refused the grant."""


class ForbiddenError(FatalApiError):
    """403: no permission, wrong tenant/company, project not permitted, app disconnected."""


class NotFoundError(FatalApiError):
    """404: unknown id (or, on Procore, a record the account cannot see)."""


class ConflictError(FatalApiError):
    """409: duplicate (for example an origin_id already used) or a concurrent sync."""


class BadRequestError(FatalApiError):
    """A 4xx that is neither validation nor one of the more specific cases."""


class ValidationFailed(FatalApiError):
    """The server refused the content: Xero 400 ValidationException, Procore 422.

    ``messages`` lists every validation message found; ``elements`` holds Xero's echoed failing
    elements (each with its own ``ValidationErrors``) so batch writers can attribute them.
    """

    def __init__(self, *, messages: list[str], elements: list[dict[str, Any]] | None = None, **kwargs: Any) -> None:
        self.messages = [redact(message) for message in messages]
        self.elements = elements or []
        kwargs.setdefault("detail", "; ".join(self.messages))
        super().__init__(**kwargs)


class DailyLimitExceeded(FatalApiError):
    """Xero's rolling daily call budget is spent: stop the run, do not sleep (Retry-After can be hours)."""

    def __init__(self, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.retry_after = retry_after
