"""Call counting and pacing *before* the APIs answer 429.

Both APIs report the remaining budget on every response. The pacers read those headers after each
response and, before the next request, sleep just long enough for the budget to come back:

* Xero (per tenant: 60 calls/minute, 5,000/day): ``X-MinLimit-Remaining`` and
  ``X-DayLimit-Remaining`` plus our own send times of the last 60 s. When the minute budget is at or
  below a reserve, wait until the oldest call leaves the window; when the day budget is spent, raise
  :class:`DailyLimitExceeded` without sending.
* Procore (hourly and 10 s spike windows, reported through one header set): when
  ``X-Rate-Limit-Remaining`` is 0, sleep until ``X-Rate-Limit-Reset`` (unix seconds, capped).
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

import httpx

from trestle.clients.errors import DailyLimitExceeded

MINUTE_WINDOW_SECONDS = 60.0


def _int_header(response: httpx.Response, name: str) -> int | None:
    value = response.headers.get(name)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


class ApiUsage:
    """Thread-safe call counts per system and ``METHOD route``, plus the last-seen budget per system."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, Counter[str]] = {}
        self._retries: Counter[str] = Counter()
        self._waited: dict[str, float] = {}
        self._budget: dict[str, dict[str, Any]] = {}

    def record_call(self, system: str, method: str, route: str) -> None:
        """Count one HTTP exchange that got a response."""
        with self._lock:
            self._calls.setdefault(system, Counter())[f"{method.upper()} {route}"] += 1

    def record_retry(self, system: str) -> None:
        """Count one retried request."""
        with self._lock:
            self._retries[system] += 1

    def record_wait(self, system: str, seconds: float) -> None:
        """Add time spent sleeping for rate limits or backoff."""
        with self._lock:
            self._waited[system] = self._waited.get(system, 0.0) + seconds

    def record_budget(self, system: str, budget: dict[str, Any]) -> None:
        """Remember the most recent remaining-budget headers of ``system``."""
        with self._lock:
            self._budget[system] = {**self._budget.get(system, {}), **budget}

    def calls(self, system: str, key: str | None = None) -> int:
        """Calls made to ``system`` in total, or for one ``"METHOD route"`` key."""
        with self._lock:
            counter = self._calls.get(system, Counter())
            return counter[key] if key is not None else sum(counter.values())

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """A plain-dict copy for reports: ``{system: {total, calls, retries, waited_seconds, budget}}``."""
        with self._lock:
            systems = set(self._calls) | set(self._budget) | set(self._retries) | set(self._waited)
            return {
                system: {
                    "total": sum(self._calls.get(system, Counter()).values()),
                    "calls": dict(sorted(self._calls.get(system, Counter()).items())),
                    "retries": self._retries[system],
                    "waited_seconds": round(self._waited.get(system, 0.0), 3),
                    "budget": dict(self._budget.get(system, {})),
                }
                for system in sorted(systems)
            }


class RateLimitPacer(ABC):
    """Decides, before each request, whether to wait (or stop) given what the last responses said."""

    @abstractmethod
    def before_request(self, method: str, route: str) -> None:
        """Sleep until sending is within budget; raise if the budget cannot come back in this run."""

    @abstractmethod
    def after_response(self, response: httpx.Response) -> None:
        """Read the budget headers of ``response``."""


class NoPacing(RateLimitPacer):
    """Never waits (tests, simulators with limits switched off)."""

    def before_request(self, method: str, route: str) -> None:
        """Nothing to do."""

    def after_response(self, response: httpx.Response) -> None:
        """Nothing to do."""


class XeroPacer(RateLimitPacer):
    """Keeps one Xero tenant connection under its minute and day limits."""

    def __init__(
        self,
        *,
        minute_limit: int = 60,
        minute_reserve: int = 1,
        usage: ApiUsage | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.minute_limit = minute_limit
        self.minute_reserve = minute_reserve
        self.usage = usage
        self._sleep = sleep
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._sent: deque[float] = deque()
        self._minute_remaining: int | None = None
        self._minute_remaining_seen_at = 0.0
        self._day_remaining: int | None = None

    def before_request(self, method: str, route: str) -> None:
        """Raise on a spent day budget, else wait for the minute window if needed; record the send."""
        with self._lock:
            if self._day_remaining is not None and self._day_remaining <= 0:
                raise DailyLimitExceeded(
                    system="xero",
                    status=429,
                    method=method,
                    route=route,
                    detail="X-DayLimit-Remaining reached 0; not sending",
                )
            wait = self._minute_wait(self._monotonic())
            if wait > 0:
                self._sleep(wait)
                if self.usage is not None:
                    self.usage.record_wait("xero", wait)
                self._minute_remaining = None
            self._sent.append(self._monotonic())

    def _minute_wait(self, now: float) -> float:
        while self._sent and now - self._sent[0] >= MINUTE_WINDOW_SECONDS:
            self._sent.popleft()
        header_fresh = now - self._minute_remaining_seen_at < MINUTE_WINDOW_SECONDS
        header_spent = (
            header_fresh and self._minute_remaining is not None and self._minute_remaining <= self.minute_reserve
        )
        own_spent = len(self._sent) >= self.minute_limit - self.minute_reserve
        if not (header_spent or own_spent):
            return 0.0
        if not self._sent:
            return MINUTE_WINDOW_SECONDS - (now - self._minute_remaining_seen_at)
        return max(0.0, self._sent[0] + MINUTE_WINDOW_SECONDS - now)

    def after_response(self, response: httpx.Response) -> None:
        """Remember ``X-MinLimit-Remaining`` / ``X-DayLimit-Remaining``."""
        minute = _int_header(response, "X-MinLimit-Remaining")
        day = _int_header(response, "X-DayLimit-Remaining")
        app_minute = _int_header(response, "X-AppMinLimit-Remaining")
        with self._lock:
            if minute is not None:
                self._minute_remaining = minute
                self._minute_remaining_seen_at = self._monotonic()
            if day is not None:
                self._day_remaining = day
        budget = {
            name: value
            for name, value in (("minute", minute), ("day", day), ("app_minute", app_minute))
            if value is not None
        }
        if budget and self.usage is not None:
            self.usage.record_budget("xero", budget)


class ProcorePacer(RateLimitPacer):
    """Waits for Procore's reported window to reset once ``X-Rate-Limit-Remaining`` reaches 0."""

    def __init__(
        self,
        *,
        max_wait: float = 120.0,
        usage: ApiUsage | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_wait = max_wait
        self.usage = usage
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._remaining: int | None = None
        self._reset_at: float | None = None

    def before_request(self, method: str, route: str) -> None:
        """Sleep until the reset time (at most ``max_wait``) when the last response said 0 remain."""
        with self._lock:
            if self._remaining is None or self._remaining > 0:
                return
            wait = 1.0 if self._reset_at is None else self._reset_at - self._clock() + 0.5
            wait = min(max(wait, 0.0), self.max_wait)
            if wait > 0:
                self._sleep(wait)
                if self.usage is not None:
                    self.usage.record_wait("procore", wait)
            self._remaining = None

    def after_response(self, response: httpx.Response) -> None:
        """Remember ``X-Rate-Limit-Limit/Remaining/Reset``."""
        limit = _int_header(response, "X-Rate-Limit-Limit")
        remaining = _int_header(response, "X-Rate-Limit-Remaining")
        reset = _int_header(response, "X-Rate-Limit-Reset")
        with self._lock:
            if remaining is not None:
                self._remaining = remaining
                self._reset_at = float(reset) if reset is not None else None
        budget = {
            name: value
            for name, value in (("limit", limit), ("remaining", remaining), ("reset", reset))
            if value is not None
        }
        if budget and self.usage is not None:
            self.usage.record_budget("procore", budget)


class SharedBudgetPacer(RateLimitPacer):
    """Takes a slot from a budget shared with other processes before the inner pacer's own check.

    ``take_slot`` blocks until the shared budget (for example a Prefect global rate limit per
    Xero tenant) allows one more call; the time it blocks is recorded as waiting.
    """

    def __init__(
        self,
        inner: RateLimitPacer,
        take_slot: Callable[[], None],
        *,
        system: str,
        usage: ApiUsage | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = inner
        self.system = system
        self.usage = usage
        self._take_slot = take_slot
        self._monotonic = monotonic

    def before_request(self, method: str, route: str) -> None:
        """Wait for the shared budget, then for this process's own view of the limits."""
        started = self._monotonic()
        self._take_slot()
        waited = self._monotonic() - started
        if waited > 0.05 and self.usage is not None:
            self.usage.record_wait(self.system, waited)
        self.inner.before_request(method, route)

    def after_response(self, response: httpx.Response) -> None:
        """Let the inner pacer read the budget headers."""
        self.inner.after_response(response)
