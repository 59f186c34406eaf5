"""Quiet nights with the change feed on (issue #15), beside the polling ones of :mod:`bench.goals`.

Per dataset: seeded sandboxes, a new database, the receiver served in this process, ``trestle
webhooks install`` pointed at it, then a first and a second nightly with
``TRESTLE_SYNC_CHANGE_FEED=true``. The first is the feed's first run (a full sweep); the second
finds nothing changed by anyone but Trestle, so its per-project streams list no project. The
figure counts every call the second night made, the feed's health reads (hooks, triggers, failing
and discarded deliveries) included; install's calls are made before the night and not counted.

``python -m bench.feed [--datasets small,medium]`` measures just these rows and prints them.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.goals import SEED, Evidence, Figure, figure_row
from bench.nightly import NightMeasurement, fresh_database, measure_night
from bench.sandbox_process import SYSTEMS, SandboxProcess

FEED_DATASETS = ("small", "medium", "large")
FEED_KEY = "feed_nights"


def feed_nights(sandboxes: SandboxProcess, work_dir: Path) -> tuple[NightMeasurement, NightMeasurement]:
    """A first and a quiet nightly with the change feed on, on freshly seeded sandboxes."""
    from fastapi import FastAPI

    from trestle.db import make_engine
    from trestle.sandbox.runner import serve_in_thread
    from trestle.settings import load_settings
    from trestle.tasks.context import RunContext
    from trestle.webhooks.receiver import delivery_path, receiver_router
    from trestle.webhooks.setup import install

    sandboxes.reset()
    fresh_database(work_dir, f"feed-{sandboxes.dataset}-{time.monotonic_ns()}")
    app = FastAPI()
    app.include_router(receiver_router(make_engine(os.environ["TRESTLE_DATABASE_URL"]), ["default"]))
    receiver = serve_in_thread(app)
    os.environ["TRESTLE_SYNC_CHANGE_FEED"] = "true"
    try:
        install(RunContext(load_settings(None)), receiver.url + delivery_path("default"))
        first = measure_night("first nightly, change feed", sandboxes)
        quiet = measure_night("second nightly, change feed", sandboxes)
    finally:
        del os.environ["TRESTLE_SYNC_CHANGE_FEED"]
        receiver.stop()
    return first, quiet


def measure_into(evidence: Evidence, sandboxes: SandboxProcess, work_dir: Path) -> None:
    """Add this dataset's feed nights to ``evidence`` (for the datasets in :data:`FEED_DATASETS`)."""
    if sandboxes.dataset in FEED_DATASETS:
        print(f"{sandboxes.dataset}: first and quiet nightly with the change feed…", flush=True)
        evidence.extra.setdefault(FEED_KEY, {})[sandboxes.dataset] = feed_nights(sandboxes, work_dir)


@figure_row
def quiet_nights_with_feed(evidence: Evidence) -> list[Figure]:
    """The second nightly with the change feed on, beside the polling one of the same size."""
    figures = []
    for dataset, (_, quiet) in evidence.extra.get(FEED_KEY, {}).items():
        calls = sum(quiet.calls(system) for system in SYSTEMS)
        split = "/".join(str(quiet.calls(system)) for system in SYSTEMS)
        polling = evidence.nights.get(dataset)
        beside = f"; polling {sum(polling[1].calls(s) for s in SYSTEMS)}" if polling else ""
        figures.append(
            Figure(
                f"quiet night with the change feed ({dataset}), calls",
                f"{calls} ({split} x/p{beside})",
                "≤ 60, flat as data grows",
                calls <= 60,
                "feed health reads included; remaining Procore calls are company-wide lists and open-issue re-reads",
            )
        )
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    """Measure the feed rows alone and print them."""
    from bench.__main__ import _isolate_environment

    parser = argparse.ArgumentParser(prog="python -m bench.feed", description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(FEED_DATASETS))
    args = parser.parse_args(argv)
    evidence = Evidence()
    with tempfile.TemporaryDirectory(prefix="trestle-bench-feed-") as folder:
        work_dir = Path(folder)
        _isolate_environment(work_dir)
        for dataset in [name for name in args.datasets.split(",") if name]:
            with SandboxProcess(dataset=dataset, seed=SEED, rate_limits="off") as sandboxes:
                os.environ.update(sandboxes.env)
                evidence.extra.setdefault(FEED_KEY, {})[dataset] = feed_nights(sandboxes, work_dir)
                _, quiet = evidence.extra[FEED_KEY][dataset]
                for system in SYSTEMS:
                    print(f"{dataset} quiet night with the feed, {system}: {quiet.routes[system]}")
    for figure in quiet_nights_with_feed(evidence):
        print(f"{figure.figure}: {figure.now} (goal {figure.goal}, met: {figure.met})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
