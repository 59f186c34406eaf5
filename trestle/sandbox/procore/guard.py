"""What every ``/rest/`` call passes before a handler runs: token, company header, rate limits.

Status choices where Procore publishes none (API_NOTES.md §3, §4, §7):

- No/unknown/revoked bearer token → 401 ``{"errors": "..."}``; an expired one → 401 with the
  message Procore's docs quote ("Your access token has expired, please use your refresh token to
  obtain a fresh token."). Both add ``WWW-Authenticate: Bearer error="invalid_token"``.
- Missing ``Procore-Company-Id`` → **400** ``{"errors": "Missing Procore-Company-Id header! ..."}``.
  A 404 has been seen in the wild (ruby-sdk#40), but a 404 reads as "record not found" and would
  make a client skip work silently; a 400 says the request itself is wrong, which it is.
  ``GET /rest/v1.0/me`` and ``GET /rest/v1.0/companies`` are exempt.
- A company id the app is not installed in → 403 ``{"errors": "App is not connected to this company"}``.
- Rate limits, per company + token: an hourly window and a 10-second spike window. Every
  response carries ``X-Rate-Limit-Limit/Remaining/Reset`` for whichever window has fewer requests
  left; over either → 429 with Procore's plain-text body, the same headers and ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from ..common import Clock, SandboxRuntime, SlidingWindow, WindowResult
from .auth import OAuthServer, bearer_token

EXEMPT_FROM_COMPANY_HEADER = frozenset({("GET", "/rest/v1.0/me"), ("GET", "/rest/v1.0/companies")})
EXPIRED_MESSAGE = "Your access token has expired, please use your refresh token to obtain a fresh token."
RATE_LIMITED_TEXT = "You have surpassed the max number of requests for an hour. Please wait until your limit resets."
MISSING_COMPANY_MESSAGE = (
    "Missing Procore-Company-Id header! Send the id of the company this request is for "
    "in the Procore-Company-Id header."
)


@dataclass(frozen=True)
class RateLimits:
    """The two budgets: ``hourly_limit`` per ``hourly_period`` s and ``spike_limit`` per ``spike_period`` s."""

    hourly_limit: int = 3600
    hourly_period: float = 3600.0
    spike_limit: int = 25
    spike_period: float = 10.0


class RateLimiter:
    """Sliding windows per (company, token), rebuilt whenever the runtime's clock is replaced."""

    def __init__(self, runtime: SandboxRuntime, limits: RateLimits) -> None:
        self.runtime = runtime
        self.limits = limits
        self._clock: Clock | None = None
        self._windows: dict[tuple[str, str], tuple[SlidingWindow, SlidingWindow]] = {}

    def _windows_for(self, key: tuple[str, str]) -> tuple[SlidingWindow, SlidingWindow]:
        if self._clock is not self.runtime.clock:  # rate-limit mode changed: start afresh
            self._clock = self.runtime.clock
            self._windows.clear()
        if key not in self._windows:
            limits, clock = self.limits, self.runtime.clock
            self._windows[key] = (
                SlidingWindow(limits.hourly_limit, limits.hourly_period, clock),
                SlidingWindow(limits.spike_limit, limits.spike_period, clock),
            )
        return self._windows[key]

    def hit(self, key: tuple[str, str]) -> tuple[bool, dict[str, str]]:
        """Count one request; ``(allowed, headers)`` where headers describe the nearer limit."""
        windows = self._windows_for(key)
        peeks = [window.peek() for window in windows]
        blocked = [result for result in peeks if not result.allowed]
        if blocked:
            worst = max(blocked, key=lambda result: result.reset_in)
            headers = self._headers(worst)
            headers["Retry-After"] = str(self.runtime.clock.to_real_seconds(worst.reset_in))
            return False, headers
        results = [window.hit() for window in windows]
        nearest = min(results, key=lambda result: (result.remaining, result.reset_in))
        return True, self._headers(nearest)

    def _headers(self, result: WindowResult) -> dict[str, str]:
        return {
            "X-Rate-Limit-Limit": str(result.limit),
            "X-Rate-Limit-Remaining": str(result.remaining),
            "X-Rate-Limit-Reset": str(self.runtime.clock.reset_epoch(result.reset_in)),
        }


def _unauthorized(message: str) -> JSONResponse:
    return JSONResponse(
        {"errors": message}, status_code=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
    )


def install_guard(
    app: FastAPI,
    runtime: SandboxRuntime,
    oauth: OAuthServer,
    limiter: RateLimiter,
    company_id: Callable[[], int],
) -> None:
    """Add the middleware that authenticates, scopes to the company and rate-limits ``/rest/`` calls."""

    @app.middleware("http")
    async def procore_guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if not request.url.path.startswith("/rest/"):
            return await call_next(request)
        token = bearer_token(request)
        if token is None:
            return _unauthorized("Unauthorized: send an access token in the Authorization header")
        status = oauth.check_access(token)
        if status == "expired":
            return _unauthorized(EXPIRED_MESSAGE)
        if status != "ok":
            return _unauthorized("Unauthorized: the access token is invalid or has been revoked")
        header = request.headers.get("procore-company-id")
        if (request.method, request.url.path.rstrip("/")) not in EXEMPT_FROM_COMPANY_HEADER:
            if not header:
                return JSONResponse({"errors": MISSING_COMPANY_MESSAGE}, status_code=400)
            if header.strip() != str(company_id()):
                return JSONResponse({"errors": "App is not connected to this company"}, status_code=403)
        headers: dict[str, str] = {}
        if runtime.limits_enabled:
            allowed, headers = limiter.hit((header or "", token))
            if not allowed:
                return PlainTextResponse(RATE_LIMITED_TEXT, status_code=429, headers=headers)
        response = await call_next(request)
        response.headers.update(headers)
        return response
