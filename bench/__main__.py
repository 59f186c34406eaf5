"""``python -m bench`` (``make bench``): benchmark every available integration against the sandboxes.

Defaults finish in a few minutes on two cores: the medium dataset with the real limits on a clock
60 times faster. Results go to ``bench/results/<UTC time>-<dataset>.json`` and ``.md`` (and
``latest.json``/``latest.md``); the table is printed. See ``bench/README.md`` for the columns.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="medium", choices=["small", "medium", "large"], help="sandbox data size")
    parser.add_argument("--seed", type=int, default=1, help="sandbox data seed")
    parser.add_argument(
        "--rate-limits", default="scaled:60", help="real | off | scaled:F (the sandboxes' limits on an F× clock)"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="an integration (vendors, …) or a benchmark (first_run, incremental, lost_responses); "
        "repeat or separate with commas; default: everything",
    )
    parser.add_argument(
        "--lost-rate",
        default="0.05",
        help="share(s) of writes whose answer is lost, comma-separated (one chain each; e.g. 0.05,0.5)",
    )
    parser.add_argument("--fault-seed", type=int, default=7, help="seed of the injected faults")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also trace Python allocations (peak MB; slows runs down)"
    )
    parser.add_argument("--output-dir", type=Path, default=RESULTS_DIR, help="where results are written")
    return parser


def _selection(only: Sequence[str], integrations: Sequence[str]) -> tuple[list[str], set[str]]:
    from bench.scenarios import BENCHMARKS, benchmarks_needed

    names = [name.strip().replace("-", "_") for item in only for name in item.split(",") if name.strip()]
    unknown = [name for name in names if name not in BENCHMARKS and name not in integrations]
    if unknown:
        known = ", ".join([*integrations, *BENCHMARKS])
        raise SystemExit(f"python -m bench: unknown --only {', '.join(unknown)} (known: {known})")
    chosen_integrations = [name for name in integrations if name in names] or list(integrations)
    return chosen_integrations, benchmarks_needed({name for name in names if name in BENCHMARKS})


def _isolate_environment(work_dir: Path) -> None:
    """Point Trestle only at the sandboxes: drop inherited TRESTLE_* settings and any Prefect API server."""
    for key in [key for key in os.environ if key.startswith("TRESTLE_")]:
        del os.environ[key]
    os.environ.pop("PREFECT_API_URL", None)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["DO_NOT_TRACK"] = "1"
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    empty_config = work_dir / "trestle.toml"
    empty_config.write_text("")
    os.environ["TRESTLE_CONFIG"] = str(empty_config)  # ignore a ./trestle.toml
    os.environ["TRESTLE_HOME"] = str(work_dir / "home")


def _prefect_startup_seconds() -> float:
    """Run an empty flow: the first flow run of a process starts Prefect's temporary server."""
    from prefect import flow

    @flow(name="bench-warm-up")
    def warm_up() -> None:
        """Nothing: only pays Prefect's start-up."""

    started = time.perf_counter()
    warm_up()
    return time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks; 0 when every clean run (and every run after faults) ended success or issues, else 1."""
    args = build_parser().parse_args(argv)
    lost_rates = [float(rate) for rate in args.lost_rate.split(",") if rate.strip()]
    with tempfile.TemporaryDirectory(prefix="trestle-bench-") as folder:
        work_dir = Path(folder)
        _isolate_environment(work_dir)
        from bench.report import write_results
        from bench.sandbox_process import SandboxProcess
        from bench.scenarios import Workbench, available_integrations, clean_chain, lost_response_chain
        from trestle.integrations import REGISTRY
        from trestle.sandbox.common import parse_rate_limit_mode

        parse_rate_limit_mode(args.rate_limits)
        integrations, benchmarks = _selection(args.only, list(REGISTRY))
        ready, skipped = available_integrations(integrations)
        started_at = datetime.now(UTC)
        print(f"Benchmarking {', '.join(ready) or 'nothing'} on {args.dataset} with limits {args.rate_limits}…")
        with SandboxProcess(dataset=args.dataset, seed=args.seed, rate_limits=args.rate_limits) as sandboxes:
            os.environ.update(sandboxes.env)
            startup = _prefect_startup_seconds()
            bench = Workbench(sandboxes, work_dir, trace_memory=args.tracemalloc)
            results = clean_chain(bench, ready, benchmarks)
            if "lost_responses" in benchmarks:
                for rate in lost_rates:
                    lost_response_chain(bench, results, rate, args.fault_seed)
    meta = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "dataset": args.dataset,
        "seed": args.seed,
        "rate_limits": args.rate_limits,
        "benchmarks": sorted(benchmarks),
        "prefect_startup_seconds": round(startup, 3),
        "tracemalloc": args.tracemalloc,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    stem = f"{started_at:%Y%m%dT%H%M%SZ}-{args.dataset}"
    json_path, markdown_path, text = write_results(args.output_dir, stem, meta, results, skipped)
    for suffix, path in ((".json", json_path), (".md", markdown_path)):
        (args.output_dir / f"latest{suffix}").write_text(path.read_text())
    print(text)
    print(f"Results: {json_path} and {markdown_path}")
    runs = [run for result in results for run in (result.first_run, result.incremental) if run is not None]
    runs += [item.follow_up for result in results for item in result.lost_responses]  # faults may fail a run
    return 0 if all(run.outcome in ("success", "issues") for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
