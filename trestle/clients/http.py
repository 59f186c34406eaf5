"""The REST core both API clients share: auth, pacing, retries, error mapping, paging, call counting.

Subclasses (:class:`~trestle.clients.xero.XeroClient`, :class:`~trestle.clients.procore.ProcoreClient`)
declare only what differs: ``system``, default headers, the paginator, and how their error bodies look
(:meth:`RestClient.parse_error_detail`). :meth:`RestClient.validate_response` is the one place that turns
a status code into the exception hierarchy of :mod:`trestle.clients.errors`.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

import httpx

from trestle.clients.auth import Authenticator
from trestle.clients.errors import (
    STRICT_VIOLATION_HEADER,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ConnectionFailedError,
    DailyLimitExceeded,
    FatalApiError,
    ForbiddenError,
    MalformedResponseError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    RetriableApiError,
    ServerError,
    StrictViolationAnswer,
    TransportError,
    ValidationFailed,
    excerpt,
)
from trestle.clients.pacing import ApiUsage, NoPacing, RateLimitPacer
from trestle.clients.paging import Paginator
from trestle.clients.tls import tls_context
from trestle.jsonable import exact_number
from trestle.timeutil import to_utc

logger = logging.getLogger(__name__)

RetriableFailure = TransportError | RetriableApiError
"""What the retry loop may wait on."""

CONNECT_TIMEOUT = 4.0
"""Seconds to wait for a TCP connection: with one retry, a dead address fails in under 10 s."""

CONNECT_FAILURES = (httpx.ConnectError, httpx.ConnectTimeout)
"""httpx errors that mean no connection was made, so nothing was sent."""

LOST_RESPONSE_STATUSES = frozenset({502, 504})
"""Statuses after which a write may have been committed although its answer never arrived."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry transient failures."""

    max_attempts: int = 5
    connect_attempts: int = 2  # refused / unknown host / connect timeout: a setting, not a blip
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    max_retry_after: float = 120.0
    jitter: float = 0.25

    def delay(self, attempt: int, retry_after: float | None, rand: Callable[[], float]) -> float:
        """Seconds to wait before attempt ``attempt + 1``: ``Retry-After`` (capped) or jittered backoff."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        backoff = min(self.backoff_base * 2.0 ** (attempt - 1), self.backoff_max)
        return backoff * (1 + self.jitter * (2 * rand() - 1))


@dataclass
class ErrorDetail:
    """What an error body said: a short ``detail``, validation ``messages`` and echoed ``elements``."""

    detail: str = ""
    messages: list[str] = field(default_factory=list)
    elements: list[dict[str, Any]] = field(default_factory=list)
    is_validation: bool = False


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(to_utc(when).timestamp() - now(), 0.0)


def connect_reason(exc: httpx.TransportError) -> str:
    """Why no connection was made, in words: refused, unknown host, timed out."""
    text = str(exc).lower()
    if isinstance(exc, httpx.ConnectTimeout) or "timed out" in text:
        return f"no answer within {CONNECT_TIMEOUT:g} s"
    if "name or service not known" in text or "nodename nor servname" in text or "name resolution" in text:
        return "unknown host"
    if "refused" in text:
        return "connection refused"
    return str(exc) or type(exc).__name__


class RestClient:
    """One ``httpx.Client`` plus authenticator, pacer, retry policy and usage counter.

    ``sleep``, ``monotonic`` and ``rand`` are injectable so tests never wait; ``transport`` lets
    tests answer with ``httpx.MockTransport``.
    """

    system: ClassVar[str] = "api"

    def __init__(
        self,
        *,
        base_url: str,
        authenticator: Authenticator,
        pacer: RateLimitPacer | None = None,
        retry: RetryPolicy | None = None,
        usage: ApiUsage | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float | httpx.Timeout = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] | None = None,
        user_agent: str = "trestle/0.1",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.authenticator = authenticator
        self.pacer = pacer or NoPacing()
        self.retry = retry or RetryPolicy()
        self.usage = usage or ApiUsage()
        self.sleep = sleep
        self.monotonic = monotonic
        self.rand = rand or random.random
        if not isinstance(timeout, httpx.Timeout):
            timeout = httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT))
        self._http = httpx.Client(
            base_url=self.base_url,
            transport=transport,
            timeout=timeout,
            headers={"User-Agent": user_agent},
            verify=tls_context(),
        )

    def __enter__(self) -> RestClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # -- hooks for subclasses -------------------------------------------------------------------

    def default_headers(self) -> dict[str, str]:
        """Headers sent on every request (besides authentication)."""
        return {"Accept": "application/json"}

    def get_new_paginator(self) -> Paginator:
        """A fresh paginator for one listing."""
        raise NotImplementedError

    def parse_error_detail(self, response: httpx.Response) -> ErrorDetail:
        """Read an error body; the default keeps a short excerpt of the text."""
        return ErrorDetail(detail=excerpt(response.text))

    def parse_float(self, text: str) -> Any:
        """How JSON numbers with a fraction are decoded (Decimal: money must stay exact)."""
        return Decimal(text)

    # -- the request cycle ----------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        route: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool,
    ) -> httpx.Response:
        """Send one logical request (with retries) and return the successful response.

        ``route`` is the path template used for counting and messages (``/Contacts/{id}``).
        Reads and ``idempotent`` writes are retried on transport errors, 5xx and short 429s;
        other writes are retried only when the server certainly did not act (429, 401, no
        connection), and a lost answer raises :class:`OutcomeUnknownError`.
        """
        method = method.upper()
        is_write = method not in ("GET", "HEAD", "OPTIONS")
        retry_safe = idempotent or not is_write
        body = None if json is None else self._encode_json(json)
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            self.pacer.before_request(method, route)
            request_headers = {
                **self.default_headers(),
                **self.authenticator.auth_headers(),
                **(headers or {}),
            }
            if body is not None:
                request_headers["Content-Type"] = "application/json"
            try:
                response = self._http.request(method, path, params=params, content=body, headers=request_headers)
            except CONNECT_FAILURES as exc:
                error: RetriableFailure = ConnectionFailedError(
                    f"{self.system} {method} {route}: cannot connect to {self.base_url} ({connect_reason(exc)})",
                    system=self.system,
                )
                if attempt >= self.retry.connect_attempts:
                    raise error from None
            except httpx.TransportError as exc:
                error = TransportError(
                    f"{self.system} {method} {route}: no response ({type(exc).__name__})", system=self.system
                )
                if not retry_safe:
                    raise self._outcome_unknown(method, route, type(exc).__name__) from None
            else:
                self.usage.record_call(self.system, method, route)
                self.pacer.after_response(response)
                try:
                    self.validate_response(response, method=method, route=route)
                    return response
                except AuthenticationError:
                    if refreshed:
                        raise
                    refreshed = True
                    logger.info("%s %s %s: 401, refreshing the token once", self.system, method, route)
                    self.authenticator.invalidate()
                    attempt -= 1
                    continue
                except RetriableApiError as exc:
                    if retry_safe and isinstance(exc, ServerError) and exc.strict_violation:
                        raise StrictViolationAnswer(
                            system=self.system, status=exc.status, method=method, route=route, detail=exc.detail
                        ) from None
                    if not retry_safe and exc.status in LOST_RESPONSE_STATUSES:
                        raise self._outcome_unknown(method, route, f"status {exc.status}") from None
                    if not retry_safe and not isinstance(exc, RateLimitedError):
                        raise
                    error = exc
            if attempt >= self.retry.max_attempts:
                logger.warning("%s %s %s: giving up after %d attempts", self.system, method, route, attempt)
                raise error
            retry_after = error.retry_after if isinstance(error, RetriableApiError) else None
            delay = self.retry.delay(attempt, retry_after, self.rand)
            logger.warning(
                "%s %s %s: %s; retrying in %.1f s (attempt %d of %d)",
                self.system,
                method,
                route,
                error.message,
                delay,
                attempt + 1,
                self.retry.max_attempts,
            )
            self.usage.record_retry(self.system)
            self.usage.record_wait(self.system, delay)
            self.sleep(delay)

    def _outcome_unknown(self, method: str, route: str, what: str) -> OutcomeUnknownError:
        return OutcomeUnknownError(
            f"{self.system} {method} {route}: the write was sent but its response was lost ({what}); "
            "look the record up before sending it again",
            system=self.system,
            method=method,
            route=route,
        )

    def _encode_json(self, payload: Any) -> bytes:
        def encode_other(value: Any) -> Any:
            if isinstance(value, Decimal):
                return exact_number(value)
            if isinstance(value, datetime):
                return value.isoformat()
            raise TypeError(f"cannot encode {type(value).__name__} as JSON")

        return json.dumps(payload, default=encode_other, separators=(",", ":")).encode()

    def validate_response(self, response: httpx.Response, *, method: str, route: str) -> None:
        """Raise the matching :mod:`~trestle.clients.errors` exception for a non-2xx ``response``."""
        status = response.status_code
        if status < 400:
            return
        info = self.parse_error_detail(response)
        common: dict[str, Any] = {
            "system": self.system,
            "status": status,
            "method": method,
            "route": route,
            "detail": info.detail,
        }
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status == 429:
            problem = response.headers.get("X-Rate-Limit-Problem")
            if problem and problem.strip().lower() == "day":
                raise DailyLimitExceeded(retry_after=retry_after, **common)
            raise RateLimitedError(problem=problem, retry_after=retry_after, **common)
        if status >= 500:
            strict_violation = STRICT_VIOLATION_HEADER in response.headers
            raise ServerError(retry_after=retry_after, strict_violation=strict_violation, **common)
        if info.is_validation or status == 422:
            raise ValidationFailed(
                messages=info.messages or ([info.detail] if info.detail else []),
                elements=info.elements,
                **common,
            )
        error_class: type[FatalApiError] = {
            401: AuthenticationError,
            403: ForbiddenError,
            404: NotFoundError,
            409: ConflictError,
        }.get(status, BadRequestError)
        raise error_class(**common)

    # -- decoding and paging --------------------------------------------------------------------

    def decode_json(self, response: httpx.Response, *, route: str) -> Any:
        """The JSON body (fractions as Decimal); :class:`MalformedResponseError` if it is not JSON."""
        content_type = response.headers.get("Content-Type", "")
        text = response.text
        if not text.strip():
            raise MalformedResponseError(
                f"{self.system} {route}: empty body where JSON was expected (status {response.status_code})",
                system=self.system,
                route=route,
            )
        try:
            return json.loads(text, parse_float=self.parse_float)
        except ValueError:
            shown = excerpt(text, 120)
            raise MalformedResponseError(
                f"{self.system} {route}: expected JSON but got {content_type or 'no content type'}: {shown!r}",
                system=self.system,
                route=route,
                body_excerpt=shown,
            ) from None

    def get_json(
        self,
        path: str,
        *,
        route: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """GET ``path`` and decode its JSON body."""
        response = self.request("GET", path, route=route, params=params, headers=headers, idempotent=True)
        return self.decode_json(response, route=route)

    def paginate(
        self,
        path: str,
        *,
        route: str,
        params: Mapping[str, Any] | None = None,
        records: Callable[[Any], list[dict[str, Any]]],
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield the records of every page, one page in memory at a time.

        ``records`` extracts the list from a decoded page (and raises
        :class:`MalformedResponseError` if the envelope is missing).
        """
        paginator = self.get_new_paginator()
        next_path: str = path
        next_params: dict[str, Any] | None = {**(params or {}), **paginator.first_params()}
        seen_urls: set[str] = set()
        while True:
            response = self.request("GET", next_path, route=route, params=next_params, headers=headers, idempotent=True)
            payload = self.decode_json(response, route=route)
            page = records(payload)
            yield from page
            if not paginator.has_more(response, payload, page):
                return
            following = paginator.get_next(response)
            if isinstance(following, str):
                self._check_next_url(following, route, seen_urls)
                next_path, next_params = following, None
            else:
                next_params = {**(next_params or {}), **following}

    def _check_next_url(self, url: str, route: str, seen: set[str]) -> None:
        """Refuse a next-page link to another host (it would receive our token) or one already read."""
        target = httpx.URL(url)
        if target.host != self._http.base_url.host or url in seen:
            reason = "points to another host" if target.host != self._http.base_url.host else "repeats a page"
            raise MalformedResponseError(
                f"{self.system} {route}: next-page link {reason}", system=self.system, route=route
            )
        seen.add(url)
