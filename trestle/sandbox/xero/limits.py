"""Xero's rate limits: per tenant 60/minute, 5,000/day and 5 in flight; 10,000/minute per app.

Windows run on the runtime's scaled :class:`~trestle.sandbox.common.Clock`, so ``scaled:F``
makes a minute pass F times faster while ``Retry-After`` stays in real seconds. A request
refused with 429 is not counted. ``X-Rate-Limit-Problem`` says which limit was hit: ``minute``
and ``day`` are observed values; ``concurrent`` and ``appminute`` are the simulator's choice for
the two limits whose strings are unverified. When limits are off (``runtime.limits_enabled`` is
False) nothing is counted and no rate-limit headers are sent.

A *day budget* set through the control plane (:meth:`RateLimiter.set_day_remaining`, route
``POST /_sandbox/rate-limits/day``) overrides the day window for every tenant and applies even
when limits are off: each admitted call spends one, ``X-DayLimit-Remaining`` reports what is left,
and once it is spent calls get 429 with ``X-Rate-Limit-Problem: day`` (Retry-After: a scaled day),
so a test can make the daily limit run out mid-run without making 5,000 calls.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from trestle.sandbox.common import Clock, SandboxRuntime, SlidingWindow

MINUTE_LIMIT = 60
DAY_LIMIT = 5000
CONCURRENT_LIMIT = 5
APP_MINUTE_LIMIT = 10_000


@dataclass
class Admission:
    """The outcome of asking to start a request."""

    allowed: bool
    headers: dict[str, str] = field(default_factory=dict)
    counted: bool = False  # whether a concurrency slot was taken (release it afterwards)


@dataclass
class _TenantWindows:
    minute: SlidingWindow
    day: SlidingWindow


class RateLimiter:
    """Counts accounting API calls per tenant and per app on the runtime's clock."""

    def __init__(self, runtime: SandboxRuntime) -> None:
        self.runtime = runtime
        self._clock: Clock | None = None
        self._tenants: dict[str, _TenantWindows] = {}
        self._app_minute: SlidingWindow | None = None
        self._in_flight: Counter[str] = Counter()
        self._day_budget: int | None = None

    def reset(self) -> None:
        """Forget every window and the day budget (after a sandbox reset)."""
        self._day_budget = None
        self._reset_windows()

    def set_day_remaining(self, remaining: int | None) -> None:
        """Allow ``remaining`` more calls today for every tenant (None: back to the day window)."""
        self._day_budget = remaining

    def _reset_windows(self) -> None:
        self._clock = self.runtime.clock
        self._tenants.clear()
        self._app_minute = SlidingWindow(APP_MINUTE_LIMIT, 60, self.runtime.clock)

    def _windows(self, tenant_id: str) -> tuple[_TenantWindows, SlidingWindow]:
        if self._clock is not self.runtime.clock or self._app_minute is None:
            self._reset_windows()
        assert self._app_minute is not None
        clock = self.runtime.clock
        tenant = self._tenants.setdefault(
            tenant_id, _TenantWindows(SlidingWindow(MINUTE_LIMIT, 60, clock), SlidingWindow(DAY_LIMIT, 86_400, clock))
        )
        return tenant, self._app_minute

    def admit(self, tenant_id: str) -> Admission:
        """Count one request if every limit has room; otherwise say which limit refused it."""
        if self._day_budget is not None:
            return self._admit_from_budget(tenant_id)
        if not self.runtime.limits_enabled:
            return Admission(allowed=True)
        tenant, app_window = self._windows(tenant_id)
        day, minute, app = tenant.day.peek(), tenant.minute.peek(), app_window.peek()
        refused = next(
            (
                (problem, result.reset_in)
                for problem, result in (("day", day), ("minute", minute), ("appminute", app))
                if not result.allowed
            ),
            None,
        )
        if refused is None and self._in_flight[tenant_id] >= CONCURRENT_LIMIT:
            refused = ("concurrent", 1.0)
        if refused is not None:
            problem, wait = refused
            headers = self._remaining(day.remaining, minute.remaining, app.remaining)
            # the concurrency limit frees up in real time, the windows in scaled time
            retry = 1 if problem == "concurrent" else self.runtime.clock.to_real_seconds(wait)
            headers["Retry-After"] = str(retry)
            headers["X-Rate-Limit-Problem"] = problem
            return Admission(allowed=False, headers=headers)
        day, minute, app = tenant.day.hit(), tenant.minute.hit(), app_window.hit()
        self._in_flight[tenant_id] += 1
        return Admission(True, self._remaining(day.remaining, minute.remaining, app.remaining), counted=True)

    def _admit_from_budget(self, tenant_id: str) -> Admission:
        assert self._day_budget is not None
        if self._day_budget <= 0:
            retry = self.runtime.clock.to_real_seconds(86_400)
            headers = {"X-DayLimit-Remaining": "0", "Retry-After": str(retry), "X-Rate-Limit-Problem": "day"}
            return Admission(allowed=False, headers=headers)
        self._day_budget -= 1
        self._in_flight[tenant_id] += 1
        return Admission(True, {"X-DayLimit-Remaining": str(self._day_budget)}, counted=True)

    def consume_day(self, tenant_id: str, count: int) -> None:
        """Count ``count`` calls against the tenant's day window (lets tests and demos reach it quickly)."""
        tenant, _app = self._windows(tenant_id)
        for _ in range(count):
            tenant.day.hit()

    def release(self, tenant_id: str, admission: Admission) -> None:
        """Free the concurrency slot an admitted request held."""
        if admission.counted and self._in_flight[tenant_id] > 0:
            self._in_flight[tenant_id] -= 1

    @staticmethod
    def _remaining(day: int, minute: int, app: int) -> dict[str, str]:
        return {
            "X-DayLimit-Remaining": str(day),
            "X-MinLimit-Remaining": str(minute),
            "X-AppMinLimit-Remaining": str(app),
        }
