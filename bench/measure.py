"""One measured flow run: sandbox-side call deltas, client retries, wall time, memory.

Calls are counted on the sandboxes (``/_sandbox/stats`` before and after) so retries and
replays show; the run summary's ``api_calls`` (the client's own count) is kept beside them.
Memory is the process's resident set sampled during the run (and, with ``trace_memory``, the
peak of Python allocations from :mod:`tracemalloc`, which slows the run down).
"""

from __future__ import annotations

import logging
import os
import resource
import sys
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.bounds import run_bound
from bench.sandbox_process import SYSTEMS, SandboxProcess, api_calls, token_calls, write_calls

_MB = 1024 * 1024
_RETRY_LOGGER = "trestle.clients.http"


@dataclass
class Memory:
    """Memory of the benchmark process during one run, in MB."""

    rss_before_mb: float | None
    rss_peak_mb: float | None
    maxrss_mb: float
    tracemalloc_peak_mb: float | None = None

    @property
    def rss_growth_mb(self) -> float | None:
        """How far the resident set rose above where it started."""
        if self.rss_before_mb is None or self.rss_peak_mb is None:
            return None
        return round(self.rss_peak_mb - self.rss_before_mb, 1)


@dataclass
class RunMeasurement:
    """What one flow run cost."""

    label: str
    outcome: str
    counts: dict[str, int]
    wall_seconds: float
    integration_seconds: float | None
    sandbox_calls: dict[str, int]
    token_calls: dict[str, int]
    write_calls: dict[str, int]
    client_calls: dict[str, int]
    retries: dict[str, int]
    bound: dict[str, Any]
    memory: Memory
    objects: dict[str, dict[str, int]] = field(repr=False)
    error: str | None = None

    @property
    def records(self) -> int:
        """Source records the run accounted for (every counted action)."""
        return sum(self.counts.values())

    def calls_per_record(self, records: int) -> dict[str, float | None]:
        """Sandbox-counted API calls per system divided by ``records`` (None without records)."""
        return {system: (round(self.sandbox_calls[system] / records, 4) if records else None) for system in SYSTEMS}

    @property
    def wall_over_enforced_bound(self) -> float | None:
        """Wall time divided by the bound the sandboxes enforced (None when it is 0 or limits were off)."""
        enforced = self.bound.get("enforced")
        if not enforced or not enforced["run"]:
            return None
        return round(self.wall_seconds / enforced["run"], 2)

    def as_dict(self, records_in_scope: int) -> dict[str, Any]:
        """JSON shape, with calls per record computed against ``records_in_scope``."""
        data = asdict(self)
        data.pop("objects")
        data["memory"]["rss_growth_mb"] = self.memory.rss_growth_mb
        data["records"] = self.records
        data["calls_per_record"] = self.calls_per_record(records_in_scope)
        data["wall_over_enforced_bound"] = self.wall_over_enforced_bound
        return data


class _RetryCounter(logging.Handler):
    """Counts the REST core's "retrying" warnings per system (``%s %s %s: %s; retrying …``)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.retries: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if "retrying" in str(record.msg) and record.args and isinstance(record.args, tuple):
            self.retries[str(record.args[0])] += 1


@contextmanager
def _counting_retries() -> Iterator[_RetryCounter]:
    counter = _RetryCounter()
    logger = logging.getLogger(_RETRY_LOGGER)
    logger.addHandler(counter)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)


def _rss_mb() -> float | None:
    """The current resident set (Linux ``/proc``); None elsewhere."""
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / _MB


def _maxrss_mb() -> float:
    """The process's peak resident set so far (``getrusage``; bytes on macOS, KiB elsewhere)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / _MB if sys.platform == "darwin" else peak / 1024


class _RssSampler:
    """Samples the resident set every ``interval`` seconds on a thread and keeps the peak."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak = _rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._observe()

    def _observe(self) -> None:
        current = _rss_mb()
        if current is not None and (self.peak is None or current > self.peak):
            self.peak = current

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._observe()


def measure_run(
    label: str,
    integration: str,
    run: Callable[[], dict[str, Any]],
    sandboxes: SandboxProcess,
    *,
    trace_memory: bool = False,
) -> RunMeasurement:
    """Call ``run`` (a flow run returning its summary) and measure what it cost."""
    before = sandboxes.stats()
    rss_before = _rss_mb()
    if trace_memory:
        tracemalloc.start()
    started = time.perf_counter()
    with _counting_retries() as retry_counter, _RssSampler() as sampler:
        summary = run()
    wall = time.perf_counter() - started
    traced_peak = None
    if trace_memory:
        traced_peak = tracemalloc.get_traced_memory()[1] / _MB
        tracemalloc.stop()
    after = sandboxes.stats()
    calls = {system: api_calls(after[system]) - api_calls(before[system]) for system in SYSTEMS}
    item = summary.get("integrations", {}).get(integration, {})
    counts = {action: int(item.get(action, 0)) for action in ("created", "updated", "unchanged", "skipped", "failed")}
    return RunMeasurement(
        label=label,
        outcome=str(item.get("outcome") or summary.get("outcome")),
        counts=counts,
        wall_seconds=round(wall, 3),
        integration_seconds=item.get("seconds"),
        sandbox_calls=calls,
        token_calls={s: token_calls(after[s]) - token_calls(before[s]) for s in SYSTEMS},
        write_calls={s: write_calls(after[s]) - write_calls(before[s]) for s in SYSTEMS},
        client_calls={s: int(item.get("api_calls", {}).get(s, 0)) for s in SYSTEMS},
        retries={s: retry_counter.retries.get(s, 0) for s in SYSTEMS},
        bound=run_bound(calls, sandboxes.rate_limits).as_dict(),
        memory=Memory(
            rss_before_mb=None if rss_before is None else round(rss_before, 1),
            rss_peak_mb=None if sampler.peak is None else round(sampler.peak, 1),
            maxrss_mb=round(_maxrss_mb(), 1),
            tracemalloc_peak_mb=None if traced_peak is None else round(traced_peak, 1),
        ),
        objects={s: dict(after[s]["objects"]) for s in SYSTEMS},
        error=item.get("error") or summary.get("error"),
    )
