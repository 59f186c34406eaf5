"""The benchmarks: first run, incremental second run, and recovery from lost responses.

Integrations run as a chain in registry order (dependencies first, as the nightly flow runs
them) from freshly seeded sandboxes and a new SQLite database. In the clean chain every selected
integration is measured twice, back to back: its first run and an incremental second run.
Dependencies that were not selected run once, unmeasured. Each lost-response chain starts afresh
and runs every selected integration once with faults on and once more with faults off (the run
that finishes whatever the lost answers left pending); its cost is compared with the clean pair.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from bench.measure import RunMeasurement, measure_run
from bench.sandbox_process import SYSTEMS, SandboxProcess

BENCHMARKS = ("first_run", "incremental", "lost_responses")
"""What ``--only`` may name besides an integration; each needs the ones before it as its baseline."""


@dataclass
class LostResponseResult:
    """One integration under one lost-response rate: the faulted run, the run after it, the extra cost."""

    lost_rate: float
    seed: int
    faulted: RunMeasurement
    follow_up: RunMeasurement
    extra_calls: dict[str, int]
    extra_seconds: float
    same_objects_as_clean_run: bool


@dataclass
class IntegrationResult:
    """Every benchmark of one integration."""

    integration: str
    depends_on: list[str]
    first_run: RunMeasurement | None = None
    incremental: RunMeasurement | None = None
    lost_responses: list[LostResponseResult] = field(default_factory=list)

    @property
    def records_in_scope(self) -> int:
        """Records the first run accounted for: the denominator of every calls-per-record figure."""
        return self.first_run.records if self.first_run else 0

    @property
    def clean_runs(self) -> list[RunMeasurement]:
        """The clean first and incremental runs that were measured."""
        return [run for run in (self.first_run, self.incremental) if run is not None]


def benchmarks_needed(selected: set[str]) -> set[str]:
    """``selected`` plus the benchmarks each one is measured against."""
    needed = set(selected) or set(BENCHMARKS)
    if "lost_responses" in needed:
        needed.add("incremental")
    needed.add("first_run")
    return needed


def available_integrations(names: list[str]) -> tuple[list[str], dict[str, str]]:
    """Which of ``names`` have an integration and a flow that import (with their dependencies), and why not."""
    ready: list[str] = []
    missing: dict[str, str] = {}
    for name in names:
        problems = {needed: _import_problem(needed) for needed in [*dependencies(name), name]}
        reasons = [f"{needed}: {problem}" for needed, problem in problems.items() if problem]
        if reasons:
            missing[name] = "; ".join(reasons)
        else:
            ready.append(name)
    return ready, missing


def _import_problem(name: str) -> str | None:
    from trestle.flows import get_flow
    from trestle.integrations import integration

    try:
        integration(name)
        get_flow(name)
    except (ImportError, AttributeError, KeyError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def dependencies(name: str) -> list[str]:
    """Every integration ``name`` needs run first, transitively, in registry order."""
    from trestle.integrations import DEPENDS_ON, REGISTRY

    needed: set[str] = set()
    pending = list(DEPENDS_ON.get(name, ()))
    while pending:
        current = pending.pop()
        if current not in needed:
            needed.add(current)
            pending.extend(DEPENDS_ON.get(current, ()))
    return [candidate for candidate in REGISTRY if candidate in needed]


def chain_for(selected: list[str]) -> list[str]:
    """``selected`` and their dependencies, in registry order."""
    from trestle.integrations import REGISTRY

    wanted = set(selected).union(*(dependencies(name) for name in selected))
    return [name for name in REGISTRY if name in wanted]


class Workbench:
    """Runs flows in this process against :class:`SandboxProcess`, each chain on a fresh database."""

    def __init__(self, sandboxes: SandboxProcess, work_dir: Path, *, trace_memory: bool = False) -> None:
        self.sandboxes = sandboxes
        self.work_dir = work_dir
        self.trace_memory = trace_memory
        self._databases = 0

    def fresh_start(self) -> None:
        """Seeded sandboxes without faults and a new, migrated SQLite database for the next runs."""
        from trestle.db import make_engine, upgrade

        self.sandboxes.reset()
        self._databases += 1
        url = f"sqlite:///{self.work_dir / f'trestle-{self._databases}.db'}"
        os.environ["TRESTLE_DATABASE_URL"] = url
        upgrade(make_engine(url))

    def run(self, name: str) -> dict[str, Any]:
        """Run the flow of integration ``name`` as ``trestle run`` does, without email; return its summary."""
        from trestle.cli import run_flow
        from trestle.flows import get_flow

        return run_flow(get_flow(name), notify=False)

    def measure(self, label: str, name: str) -> RunMeasurement:
        """Run integration ``name`` once, measured."""
        runner: Callable[[], dict[str, Any]] = partial(self.run, name)
        return measure_run(label, name, runner, self.sandboxes, trace_memory=self.trace_memory)


def clean_chain(bench: Workbench, selected: list[str], benchmarks: set[str]) -> list[IntegrationResult]:
    """Measure the first (and, if selected, incremental) run of each of ``selected``, in chain order."""
    results: list[IntegrationResult] = []
    bench.fresh_start()
    for name in chain_for(selected):
        if name not in selected:
            bench.run(name)
            continue
        print(f"  {name}: first run", flush=True)
        result = IntegrationResult(integration=name, depends_on=dependencies(name))
        result.first_run = bench.measure("first run", name)
        if "incremental" in benchmarks:
            result.incremental = bench.measure("incremental", name)
        results.append(result)
    return results


def lost_response_chain(bench: Workbench, results: list[IntegrationResult], lost_rate: float, seed: int) -> None:
    """Re-run the chain with ``lost_rate`` of writes answered 504 after committing; add the outcome to ``results``."""
    by_name = {result.integration: result for result in results}
    bench.fresh_start()
    for name in chain_for(list(by_name)):
        if name not in by_name:
            bench.run(name)
            continue
        print(f"  {name}: lost_rate {lost_rate:g}", flush=True)
        result = by_name[name]
        bench.sandboxes.set_faults(lost_rate=lost_rate, seed=seed)
        try:
            faulted = bench.measure(f"lost {lost_rate:g}", name)
        finally:
            bench.sandboxes.set_faults()
        follow_up = bench.measure(f"after lost {lost_rate:g}", name)
        clean = result.clean_runs
        result.lost_responses.append(
            LostResponseResult(
                lost_rate=lost_rate,
                seed=seed,
                faulted=faulted,
                follow_up=follow_up,
                extra_calls={
                    system: faulted.sandbox_calls[system]
                    + follow_up.sandbox_calls[system]
                    - sum(run.sandbox_calls[system] for run in clean)
                    for system in SYSTEMS
                },
                extra_seconds=round(
                    faulted.wall_seconds + follow_up.wall_seconds - sum(run.wall_seconds for run in clean), 3
                ),
                same_objects_as_clean_run=follow_up.objects == clean[-1].objects,
            )
        )
