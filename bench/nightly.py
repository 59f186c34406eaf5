"""Measured nightly runs: the first night on freshly seeded sandboxes, then a quiet second night.

What :mod:`bench.goals` needs from a night: the API calls per system and per route (counted by
the sandboxes, the token endpoint included), the objects each sandbox holds before and after,
every integration's counts and own seconds, the Prefect task runs the night made, and its wall
time. The nightly flow runs in this process exactly as ``trestle run nightly --no-email`` runs it.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.sandbox_process import SYSTEMS, SandboxProcess

CONTROL_ROUTE = "/_sandbox"


@dataclass
class NightMeasurement:
    """What one nightly run cost and did."""

    label: str
    outcome: str
    wall_seconds: float
    routes: dict[str, dict[str, int]]  # system -> "METHOD /route" -> calls
    objects_before: dict[str, dict[str, int]]
    objects_after: dict[str, dict[str, int]]
    integrations: dict[str, dict[str, Any]]  # the summary's per-integration entries
    task_runs: int
    prefect_seconds: float | None = None  # Prefect's engines on the night's thread (see _PrefectMeter)
    flow_engine_seconds: float | None = None  # of which: the flow run's own start and end
    heartbeat_stop_seconds: float | None = None  # of which: waiting for Prefect's heartbeat thread to stop
    empty_task_runs: int = 0
    notes: list[str] = field(default_factory=list)

    def calls(self, system: str) -> int:
        """API calls ``system`` answered (token endpoint included, control routes not)."""
        return sum(self.routes[system].values())

    def writes(self, system: str | None = None) -> int:
        """POST/PUT/PATCH/DELETE calls (token endpoint excluded) on ``system`` or both."""
        systems = [system] if system else list(SYSTEMS)
        return sum(
            count
            for name in systems
            for route, count in self.routes[name].items()
            if route.split(" ", 1)[0] in ("POST", "PUT", "PATCH", "DELETE") and not _is_token_route(route)
        )

    def route_calls(self, system: str, contains: str, method: str | None = None) -> int:
        """Calls on routes of ``system`` whose path contains ``contains`` (and of ``method``, if given)."""
        return sum(
            count
            for route, count in self.routes[system].items()
            if contains in route and (method is None or route.startswith(method + " "))
        )

    def integration_seconds(self) -> float:
        """The seconds the integrations' own pipelines took, added up (Prefect's flow overhead not in it)."""
        return sum(float(item.get("seconds") or 0) for item in self.integrations.values())

    def written(self, integration: str) -> int:
        """Records ``integration`` created or updated."""
        item = self.integrations.get(integration, {})
        return int(item.get("created", 0)) + int(item.get("updated", 0))

    def created_objects(self, system: str, kind: str) -> int:
        """How many more ``kind`` objects ``system`` holds after the night than before."""
        return self.objects_after[system].get(kind, 0) - self.objects_before[system].get(kind, 0)

    def as_dict(self) -> dict[str, Any]:
        """JSON shape."""
        return {
            "label": self.label,
            "outcome": self.outcome,
            "wall_seconds": round(self.wall_seconds, 3),
            "integration_seconds": round(self.integration_seconds(), 3),
            "calls": {system: self.calls(system) for system in SYSTEMS},
            "writes": {system: self.writes(system) for system in SYSTEMS},
            "task_runs": self.task_runs,
            "prefect_seconds": None if self.prefect_seconds is None else round(self.prefect_seconds, 3),
            "flow_engine_seconds": _rounded(self.flow_engine_seconds),
            "heartbeat_stop_seconds": _rounded(self.heartbeat_stop_seconds),
            "routes": self.routes,
            "objects_before": self.objects_before,
            "objects_after": self.objects_after,
            "integrations": self.integrations,
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _is_token_route(route: str) -> bool:
    return route.endswith("/connect/token") or route.endswith("/oauth/token")


class _PrefectMeter:
    """Counts the Prefect task runs started in this process while active (task names kept) and
    the seconds Prefect's engines spend on this thread outside the flow's and tasks' own code.

    A task run's engine seconds are its whole call (``run_task``) minus its function's
    (``call_task_fn``); a nested task's call is inside its parent's function, so the sums do not
    overlap. Runs on other threads (an integration's artifacts, published in the background) are
    counted but not timed: they are off the night's critical path.
    """

    def __init__(self) -> None:
        self.names: Counter[str] = Counter()
        self.task_calls = 0.0
        self.task_bodies = 0.0
        self.flow_body = 0.0
        self.heartbeat_stop = 0.0
        self._originals: dict[str, Any] = {}

    def __enter__(self) -> _PrefectMeter:
        import prefect.flow_engine as flow_engine
        import prefect.task_engine as task_engine
        from prefect.flow_engine import FlowRunEngine
        from prefect.task_engine import SyncTaskRunEngine

        meter, main = self, threading.main_thread()
        begin_run, call_task_fn = SyncTaskRunEngine.begin_run, SyncTaskRunEngine.call_task_fn
        run_task, call_flow_fn = task_engine.run_task, FlowRunEngine.call_flow_fn
        self._originals = {"begin_run": begin_run, "call_task_fn": call_task_fn, "run_task": run_task}
        self._originals["call_flow_fn"] = call_flow_fn
        send_heartbeats = self._originals["send_heartbeats"] = flow_engine._send_heartbeats
        depth = [0]  # flow bodies: only the outermost one is timed

        def timed(add: Callable[[float], None], call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            if threading.current_thread() is not main:
                return call(*args, **kwargs)
            started = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                add(time.perf_counter() - started)

        def add_call(seconds: float) -> None:
            meter.task_calls += seconds

        def add_body(seconds: float) -> None:
            meter.task_bodies += seconds

        def add_flow(seconds: float) -> None:
            meter.flow_body += seconds

        def counted_begin_run(engine: Any, *args: Any, **kwargs: Any) -> Any:
            meter.names[str(getattr(engine.task, "name", "?"))] += 1
            return begin_run(engine, *args, **kwargs)

        def timed_flow(engine: Any) -> Any:
            depth[0] += 1
            try:
                if depth[0] > 1:
                    return call_flow_fn(engine)
                return timed(add_flow, call_flow_fn, engine)
            finally:
                depth[0] -= 1

        @contextmanager
        def timed_heartbeats(*args: Any, **kwargs: Any) -> Iterator[None]:
            # the heartbeat thread sleeps in 1 s steps; the engine joins it as the flow run ends
            beats = send_heartbeats(*args, **kwargs)
            beats.__enter__()
            try:
                yield
            finally:
                started = time.perf_counter()
                beats.__exit__(None, None, None)
                if threading.current_thread() is main:
                    meter.heartbeat_stop += time.perf_counter() - started

        flow_engine._send_heartbeats = timed_heartbeats
        SyncTaskRunEngine.begin_run = counted_begin_run  # type: ignore[method-assign]
        SyncTaskRunEngine.call_task_fn = lambda engine, *a, **k: timed(add_body, call_task_fn, engine, *a, **k)  # type: ignore[method-assign]
        task_engine.run_task = lambda *a, **k: timed(add_call, run_task, *a, **k)
        FlowRunEngine.call_flow_fn = timed_flow  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc_info: object) -> None:
        import prefect.flow_engine as flow_engine
        import prefect.task_engine as task_engine
        from prefect.flow_engine import FlowRunEngine
        from prefect.task_engine import SyncTaskRunEngine

        SyncTaskRunEngine.begin_run = self._originals["begin_run"]  # type: ignore[method-assign]
        SyncTaskRunEngine.call_task_fn = self._originals["call_task_fn"]  # type: ignore[method-assign]
        task_engine.run_task = self._originals["run_task"]
        FlowRunEngine.call_flow_fn = self._originals["call_flow_fn"]  # type: ignore[method-assign]
        flow_engine._send_heartbeats = self._originals["send_heartbeats"]

    @property
    def total(self) -> int:
        return sum(self.names.values())

    def engine_seconds(self, wall: float) -> float:
        """Prefect's seconds on this thread: around the flow's body, plus each task run's engine."""
        return (wall - self.flow_body) + (self.task_calls - self.task_bodies)


def measure_night(label: str, sandboxes: SandboxProcess) -> NightMeasurement:
    """Run the nightly flow once (no email) and measure it."""
    from trestle.cli import run_flow
    from trestle.flows import get_flow

    before = sandboxes.stats()
    started = time.perf_counter()
    with _PrefectMeter() as tasks:
        summary = run_flow(get_flow("nightly"), notify=False)
    wall = time.perf_counter() - started
    after = sandboxes.stats()
    routes: dict[str, dict[str, int]] = {}
    for system in SYSTEMS:
        delta = {
            route: count - before[system]["requests"].get(route, 0)
            for route, count in after[system]["requests"].items()
            if CONTROL_ROUTE not in route
        }
        routes[system] = {route: count for route, count in sorted(delta.items()) if count}
    return NightMeasurement(
        label=label,
        outcome=str(summary.get("outcome")),
        wall_seconds=wall,
        routes=routes,
        objects_before={system: dict(before[system]["objects"]) for system in SYSTEMS},
        objects_after={system: dict(after[system]["objects"]) for system in SYSTEMS},
        integrations=dict(summary.get("integrations", {})),
        task_runs=tasks.total,
        prefect_seconds=tasks.engine_seconds(wall),
        flow_engine_seconds=wall - tasks.flow_body,
        heartbeat_stop_seconds=tasks.heartbeat_stop,
    )


def fresh_database(work_dir: Path, name: str) -> None:
    """A new, migrated SQLite link store for the next nights (``TRESTLE_DATABASE_URL``)."""
    from trestle.db import make_engine, upgrade

    url = f"sqlite:///{work_dir / f'{name}.db'}"
    os.environ["TRESTLE_DATABASE_URL"] = url
    upgrade(make_engine(url))


def first_and_quiet_nights(sandboxes: SandboxProcess, work_dir: Path) -> tuple[NightMeasurement, NightMeasurement]:
    """Seeded sandboxes and a new database, then two nights back to back (the second finds nothing new)."""
    sandboxes.reset()
    fresh_database(work_dir, f"nightly-{sandboxes.dataset}-{time.monotonic_ns()}")
    first = measure_night("first nightly", sandboxes)
    quiet = measure_night("second nightly", sandboxes)
    return first, quiet
