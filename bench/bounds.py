"""The least wall time the APIs' rate limits allow for a number of calls.

Both APIs count calls in sliding windows: Xero 60 per minute and 5,000 per day per tenant, Procore
an hourly and a 10-second spike window per company and token. With a window of ``limit`` calls per
``period`` seconds, ``n`` calls cannot finish in less than ``floor((n - 1) / limit) * period``
seconds: the first ``limit`` go at once, each further batch of ``limit`` one period later. A
system's bound is the largest over its windows, and a run's bound the larger of the two systems'
(calls to Xero and Procore could in principle overlap).

The limits are the simulators' own constants, which mirror the published ones, so the bound always
matches what the sandboxes enforce.
"""

from __future__ import annotations

from dataclasses import dataclass

from trestle.sandbox.common import parse_rate_limit_mode
from trestle.sandbox.procore.guard import RateLimits
from trestle.sandbox.xero.limits import DAY_LIMIT, MINUTE_LIMIT


@dataclass(frozen=True)
class Window:
    """At most ``limit`` calls in any ``period`` seconds."""

    name: str
    limit: int
    period: float

    def min_seconds(self, calls: int) -> float:
        """Least seconds ``calls`` calls take under this window alone."""
        if calls <= 0:
            return 0.0
        return ((calls - 1) // self.limit) * self.period


_PROCORE = RateLimits()
WINDOWS: dict[str, tuple[Window, ...]] = {
    "xero": (Window("minute", MINUTE_LIMIT, 60.0), Window("day", DAY_LIMIT, 86_400.0)),
    "procore": (
        Window("hourly", _PROCORE.hourly_limit, _PROCORE.hourly_period),
        Window("spike", _PROCORE.spike_limit, _PROCORE.spike_period),
    ),
}


def system_bound(system: str, calls: int) -> float:
    """Least seconds the real limits of ``system`` allow for ``calls`` calls."""
    return max(window.min_seconds(calls) for window in WINDOWS[system])


@dataclass(frozen=True)
class RunBound:
    """The bound of one run under the real limits and under the limits the sandboxes enforced."""

    real: dict[str, float]
    enforced: dict[str, float] | None  # None when the sandboxes ran without limits

    @property
    def real_run(self) -> float:
        """The run's bound under the real limits (the larger system bound)."""
        return max(self.real.values(), default=0.0)

    @property
    def enforced_run(self) -> float | None:
        """The run's bound under the enforced (possibly scaled) limits; None without limits."""
        return None if self.enforced is None else max(self.enforced.values(), default=0.0)

    def as_dict(self) -> dict[str, object]:
        """JSON shape: per-system and run bounds, rounded to milliseconds."""
        return {
            "real": {**{k: round(v, 3) for k, v in self.real.items()}, "run": round(self.real_run, 3)},
            "enforced": None
            if self.enforced is None
            else {**{k: round(v, 3) for k, v in self.enforced.items()}, "run": round(self.enforced_run or 0.0, 3)},
        }


def run_bound(calls: dict[str, int], rate_limit_mode: str) -> RunBound:
    """Bounds for ``calls`` per system; ``rate_limit_mode`` (``real|off|scaled:F``) sets the enforced one."""
    real = {system: system_bound(system, calls.get(system, 0)) for system in WINDOWS}
    speed = parse_rate_limit_mode(rate_limit_mode)
    enforced = None if speed is None else {system: seconds / speed for system, seconds in real.items()}
    return RunBound(real=real, enforced=enforced)
