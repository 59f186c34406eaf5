"""``python -m bench.goals`` (``make bench``): issue #15's table, every figure beside its goal, in one run.

It measures, with the limits off unless a row says otherwise (seed 7, as the issue's figures):

1. small, medium and large: a first nightly on freshly seeded sandboxes and a quiet second one
   (against Prefect's temporary server, as ``trestle run`` runs them), then for medium a first
   nightly against a running Prefect server (as deployments run under ``trestle up``);
2. medium with the real limits on a 10× and a 60× clock: the nightly chain up to commitments, the
   progress-claims flow (Trestle), then the same bills sent by the per-record script of
   :mod:`bench.per_record` on sandboxes reset to the same point.

Each figure is a *row*: a function of the measurements returning :class:`Figure` lines. Rows
register with :func:`figure_row`; a module of rows outside this file (``bench/matching.py``, say)
registers its own the same way and is listed in :data:`ROW_MODULES`, imported when present.
Results go to ``bench/results/goals-<dataset set>-<UTC time>.json``/``.md`` and ``goals-latest.*``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.floor import floor_calls, floor_terms
from bench.nightly import NightMeasurement, first_and_quiet_nights, fresh_database, measure_night
from bench.per_record import BaselineResult, bills_written, send_per_record
from bench.sandbox_process import SYSTEMS, SandboxProcess

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SEED = 7
DATASETS = ("small", "medium", "large")
COMPARISON_LIMITS = ("scaled:10", "scaled:60")
CHAIN_BEFORE_CLAIMS = ["vendors", "projects", "cost_codes", "commitments"]
ROW_MODULES = ("bench.matching", "bench.feed")
"""Modules with more rows (each calls :func:`figure_row`); a missing one is skipped."""


@dataclass
class Figure:
    """One line of the table: what was measured, now, against the goal (met: True/False/None unknown)."""

    figure: str
    now: str
    goal: str
    met: bool | None = None
    note: str = ""


@dataclass
class Comparison:
    """Trestle's progress claims against the per-record script, same bills, same limits."""

    limits: str
    documents: int
    trestle_xero_calls: int
    trestle_seconds: float
    baseline: BaselineResult


@dataclass
class Evidence:
    """Everything measured in this run, handed to every row."""

    nights: dict[str, tuple[NightMeasurement, NightMeasurement]] = field(default_factory=dict)
    comparisons: dict[str, Comparison] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # what rows from other modules measure


FigureRow = Callable[[Evidence], list[Figure]]
ROWS: list[FigureRow] = []


def figure_row(row: FigureRow) -> FigureRow:
    """Register a row (decorator); rows print in registration order."""
    ROWS.append(row)
    return row


def _ratio(calls: int, floor: int) -> float:
    return calls / floor if floor else float("inf")


@figure_row
def first_night_vs_floor(evidence: Evidence) -> list[Figure]:
    """Medium first nightly: calls per system against the floor computed from the data."""
    if "medium" not in evidence.nights:
        return []
    first = evidence.nights["medium"][0]
    figures = []
    for system in SYSTEMS:
        calls, floor = first.calls(system), floor_calls(first, system)
        ratio = _ratio(calls, floor)
        figures.append(
            Figure(
                f"medium first nightly, {system} calls vs floor",
                f"{calls} vs {floor} ({ratio:.2f}×)",
                "≤ 1.10×",
                ratio <= 1.10,
            )
        )
    return figures


@figure_row
def progress_claims_vs_floor(evidence: Evidence) -> list[Figure]:
    """Progress claims' Xero calls on the medium first nightly against their part of the floor."""
    if "medium" not in evidence.nights:
        return []
    first = evidence.nights["medium"][0]
    calls = int(first.integrations.get("progress_claims", {}).get("api_calls", {}).get("xero", 0))
    floor = floor_calls(first, "xero", "progress_claims")
    ratio = _ratio(calls, floor)
    return [
        Figure(
            "progress claims, Xero calls, medium first run",
            f"{calls} vs floor {floor} ({ratio:.2f}×)",
            "≤ 1.10× floor",
            ratio <= 1.10,
            "client-counted calls of the integration (its token not included); contacts shared with vendors",
        )
    ]


@figure_row
def quiet_nights(evidence: Evidence) -> list[Figure]:
    """The second nightly with nothing changed, on every size measured."""
    figures = []
    for dataset, (_, quiet) in evidence.nights.items():
        calls = sum(quiet.calls(system) for system in SYSTEMS)
        floor = sum(floor_calls(quiet, system) for system in SYSTEMS)
        split = "/".join(str(quiet.calls(system)) for system in SYSTEMS)
        figures.append(
            Figure(
                f"quiet night ({dataset}), calls",
                f"{calls} ({split} x/p; floor {floor})",
                "≤ 60, flat as data grows",
                calls <= 60,
            )
        )
    return figures


@figure_row
def quiet_night_writes(evidence: Evidence) -> list[Figure]:
    """Writes of the second nightly (nothing changed, so nothing to write)."""
    figures = []
    for dataset, (_, quiet) in evidence.nights.items():
        written = {name: quiet.written(name) for name in quiet.integrations if quiet.written(name)}
        records = sum(written.values())
        detail = ", ".join(f"{name} {count}" for name, count in written.items())
        figures.append(
            Figure(
                f"{dataset} second nightly, records written",
                f"{records} ({quiet.writes()} write calls){': ' + detail if detail else ''}",
                "writes nothing",
                records == 0 and quiet.writes() == 0,
            )
        )
    return figures


def _overhead_figure(title: str, night: NightMeasurement, note: str) -> Figure:
    own = night.integration_seconds()
    share = 1 - own / night.wall_seconds if night.wall_seconds else 0.0
    return Figure(
        title,
        f"{night.wall_seconds:.1f} s, integrations' own work {own:.1f} s, overhead {share:.0%}"
        f"{_overhead_parts(night)}; {night.task_runs} task runs",
        "Prefect and process overhead ≤ 15 % of wall",
        share <= 0.15,
        note,
    )


def _overhead_parts(night: NightMeasurement) -> str:
    """Where the overhead went: the flow run's own start and end (its heartbeat thread's stop
    among them), then the rest (Trestle's run-level work and the integration task runs' engines);
    and Prefect's engines in all, those of the stages inside the integrations' work included."""
    engine, flow_part = night.prefect_seconds, night.flow_engine_seconds
    if engine is None or flow_part is None:
        return ""
    wall = night.wall_seconds
    rest = wall - night.integration_seconds() - flow_part
    return (
        f" = flow run start and end {flow_part:.2f} s (of which Prefect's heartbeat thread's stop "
        f"{night.heartbeat_stop_seconds or 0.0:.2f} s) + run-level work and integration task runs {rest:.2f} s; "
        f"Prefect's engines in all {engine:.2f} s ({engine / wall:.0%})"
    )


@figure_row
def prefect_overhead(evidence: Evidence) -> list[Figure]:
    """Medium first nightly, limits off: the share of the wall time outside the integrations' own work.

    Judged on the temporary server (``trestle run``, the chaos harness, this table's other rows):
    the case Trestle pays on every terminal run. The same night against a running server (as
    deployments run under ``trestle up``) is its own line, judged by the same goal.
    """
    figures = []
    if "medium" in evidence.nights:
        figures.append(
            _overhead_figure(
                "medium nightly wall, limits off (temporary server, judged)",
                evidence.nights["medium"][0],
                "overhead = wall − the integrations' own seconds (their reports, which include their stages' "
                "task-run engine time); the temporary server's start (once per process) is not in it; "
                "Prefect's engines = measured around the flow body and each task run on the night's thread; "
                "the heartbeat thread sleeps in 1 s steps and is joined as the flow run ends",
            )
        )
    if night := evidence.extra.get("running_server_night"):
        figures.append(
            _overhead_figure(
                "medium nightly wall, limits off (running Prefect server)",
                night,
                "as deployments run under `trestle up`: "
                + "; ".join(night.notes or ["server started by the benchmark, its own home"]),
            )
        )
    return figures


@figure_row
def against_per_record_script(evidence: Evidence) -> list[Figure]:
    """Xero calls and wall time against the per-record script, same bills, same limits."""
    figures = []
    for limits, comparison in evidence.comparisons.items():
        baseline = comparison.baseline
        fewer = baseline.calls / comparison.trestle_xero_calls if comparison.trestle_xero_calls else float("inf")
        faster = baseline.wall_seconds / comparison.trestle_seconds if comparison.trestle_seconds else float("inf")
        if limits == next(iter(evidence.comparisons)):
            figures.append(
                Figure(
                    "Xero calls vs a per-record script, same bills",
                    f"{fewer:.1f}× fewer ({comparison.trestle_xero_calls} vs {baseline.calls}, "
                    f"{comparison.documents} documents)",
                    "≥ 20× fewer",
                    fewer >= 20,
                    "plain httpx per-record script (bench/per_record.py), not the official SDK",
                )
            )
        goal = 5.0 if limits == "scaled:10" else 1.0
        figures.append(
            Figure(
                f"wall time vs that script ({limits})",
                f"{faster:.1f}× faster ({comparison.trestle_seconds:.1f} s vs {baseline.wall_seconds:.1f} s)",
                f"≥ {goal:g}× at {limits}",
                faster >= goal,
                "Trestle: the progress-claims flow run; script: a token, then a contact and a bill per record",
            )
        )
    return figures


def night_on_running_server(work_dir: Path, dataset: str = "medium") -> NightMeasurement:
    """A first nightly as deployments run it under ``trestle up``: against an already running Prefect
    server (started here, its own home, no scheduler), after one empty flow run against it.

    The night's flow run is read back from that server afterwards, so a night that reported
    elsewhere (to the temporary server) would show as a note rather than pass unnoticed.
    """
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from bench.__main__ import _prefect_startup_seconds
    from trestle.deployments.local import free_port, start_prefect_server

    server = start_prefect_server(home=work_dir / "prefect-server", port=free_port(), scheduler=False)
    try:
        with (
            temporary_settings(updates={PREFECT_API_URL: server.api_url}),
            SandboxProcess(dataset=dataset, seed=SEED, rate_limits="off") as sandboxes,
        ):
            os.environ.update(sandboxes.env)
            _prefect_startup_seconds()
            sandboxes.reset()
            fresh_database(work_dir, f"running-server-{dataset}")
            night = measure_night("first nightly, running Prefect server", sandboxes)
            with get_client(sync_client=True) as client:
                nightly = [run for run in client.read_flow_runs(limit=20) if run.name and run.parameters is not None]
                recorded = sum(len(client.read_task_runs(flow_run_filter=_run_filter(run.id))) for run in nightly)
            night.notes.append(f"the server recorded {len(nightly)} flow runs and {recorded} task runs")
            return night
    finally:
        server.stop()


def _run_filter(run_id: Any) -> Any:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    return FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))


def compare_with_per_record(sandboxes: SandboxProcess, work_dir: Path) -> Comparison:
    """Progress claims by Trestle, then the same bills per record, from the same starting point."""
    from trestle.cli import run_flow
    from trestle.flows import get_flow

    def chain() -> str:
        sandboxes.reset()
        name = f"compare-{sandboxes.rate_limits.replace(':', '-')}-{datetime.now(UTC):%H%M%S%f}"
        fresh_database(work_dir, name)
        run_flow(get_flow("nightly"), notify=False, integrations=CHAIN_BEFORE_CLAIMS)
        return os.environ["TRESTLE_DATABASE_URL"]

    database_url = chain()
    before = sandboxes.stats()
    claims = measure_run_of(lambda: run_flow(get_flow("progress_claims"), notify=False))
    after = sandboxes.stats()
    xero_calls = int(after["xero"]["total_requests"]) - int(before["xero"]["total_requests"])
    documents = bills_written(database_url)
    chain()
    baseline = send_per_record(sandboxes.env, documents)
    return Comparison(sandboxes.rate_limits, len(documents), xero_calls, claims, baseline)


def measure_run_of(run: Callable[[], Any]) -> float:
    """Seconds ``run`` takes."""
    import time

    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def _measure_feed(evidence: Evidence, sandboxes: SandboxProcess, work_dir: Path) -> None:
    """The change feed's quiet nights (:mod:`bench.feed`), on the same sandboxes."""
    from bench.feed import measure_into

    measure_into(evidence, sandboxes, work_dir)


def _load_row_modules() -> None:
    for name in ROW_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as missing:
            if missing.name != name:
                raise


def markdown(meta: dict[str, Any], figures: list[Figure], evidence: Evidence) -> str:
    """The table, then each medium night's floor terms."""
    lines = [
        f"# Trestle against issue #15's goals — {meta['started_at']}",
        "",
        f"Seed {meta['seed']}, limits off unless the figure names them, "
        f"Python {meta['python']}, {meta['cpus']} CPU(s).",
        "",
        "| figure | now | goal | met | note |",
        "|---|---|---|---|---|",
    ]
    for item in figures:
        met = {True: "yes", False: "**no**", None: "—"}[item.met]
        lines.append(f"| {item.figure} | {item.now} | {item.goal} | {met} | {item.note} |")
    for dataset, nights in evidence.nights.items():
        for night in nights:
            lines += ["", f"Floor of the {dataset} {night.label} (bench/floor.py):", ""]
            for term in floor_terms(night):
                lines.append(f"- {term.system} · {term.integration} · {term.what}: {term.calls}")
            lines.append(f"- calls made: {', '.join(f'{s} {night.calls(s)}' for s in SYSTEMS)}")
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.goals", description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated sizes for the nightly pairs")
    parser.add_argument(
        "--compare", default=",".join(COMPARISON_LIMITS), help="limits for the per-record comparison ('' for none)"
    )
    parser.add_argument(
        "--no-running-server",
        dest="running_server",
        action="store_false",
        help="skip the medium nightly against a running Prefect server",
    )
    parser.add_argument("--output-dir", type=Path, default=RESULTS_DIR, help="where results are written")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print the table, write the results; 0 unless a clean night failed."""
    from bench.__main__ import _isolate_environment, _prefect_startup_seconds

    args = build_parser().parse_args(argv)
    datasets = [name for name in args.datasets.split(",") if name]
    limits = [mode for mode in args.compare.split(",") if mode]
    evidence = Evidence()
    started_at = datetime.now(UTC)
    _load_row_modules()
    with tempfile.TemporaryDirectory(prefix="trestle-bench-goals-") as folder:
        work_dir = Path(folder)
        _isolate_environment(work_dir)
        startup: float | None = None
        for dataset in datasets:
            print(f"{dataset}: first and quiet nightly (limits off)…", flush=True)
            with SandboxProcess(dataset=dataset, seed=SEED, rate_limits="off") as sandboxes:
                os.environ.update(sandboxes.env)
                if startup is None:
                    startup = _prefect_startup_seconds()
                evidence.nights[dataset] = first_and_quiet_nights(sandboxes, work_dir)
                _measure_feed(evidence, sandboxes, work_dir)
        if "medium" in datasets and args.running_server:
            print("medium: first nightly against a running Prefect server (limits off)…", flush=True)
            evidence.extra["running_server_night"] = night_on_running_server(work_dir)
        for mode in limits:
            print(f"medium: progress claims against the per-record script ({mode})…", flush=True)
            with SandboxProcess(dataset="medium", seed=SEED, rate_limits=mode) as sandboxes:
                os.environ.update(sandboxes.env)
                evidence.comparisons[mode] = compare_with_per_record(sandboxes, work_dir)
    figures = [figure for row in ROWS for figure in row(evidence)]
    meta = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "seed": SEED,
        "datasets": datasets,
        "comparison_limits": limits,
        "prefect_startup_seconds": None if startup is None else round(startup, 3),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    text = markdown(meta, figures, evidence)
    data = {
        **meta,
        "figures": [asdict(item) for item in figures],
        "nights": {name: [night.as_dict() for night in nights] for name, nights in evidence.nights.items()},
        "comparisons": {mode: asdict(item) for mode, item in evidence.comparisons.items()},
        "running_server_night": (
            evidence.extra["running_server_night"].as_dict() if "running_server_night" in evidence.extra else None
        ),
    }
    args.output_dir.mkdir(parents=True, exist_ok=True)
    stem = f"goals-{'-'.join(datasets) or 'none'}-{started_at:%Y%m%dT%H%M%SZ}"
    for suffix, content in ((".json", json.dumps(data, indent=2, default=str) + "\n"), (".md", text)):
        (args.output_dir / f"{stem}{suffix}").write_text(content)
        (args.output_dir / f"goals-latest{suffix}").write_text(content)
    print(text)
    failed = [n.label for nights in evidence.nights.values() for n in nights if n.outcome in ("failed", "blocked")]
    return 1 if failed else 0


if __name__ == "__main__":
    # Row modules register with ``bench.goals`` as imported, not with this ``__main__`` copy: run that one.
    from bench.goals import main as main_of_module

    sys.exit(main_of_module())
