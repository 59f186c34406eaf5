"""Matching benchmark: precision and recall on look-alike names, and time at 2,000 and 20,000.

``make bench`` shows these figures in its goals table (:func:`matching_rows`); ``python -m bench.matching`` prints a
markdown table and writes ``bench/results/matching-latest.json`` / ``.md``. The names are
generated deterministically by :mod:`bench.matching_names`.

Precision is correct links ÷ links made; recall is correct links ÷ contacts that have a vendor.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.goals import Evidence, Figure, figure_row
from bench.matching_names import directory, labelled_set, precision_recall
from trestle.matching import NameIndex, name_tokens, resolve

DEFAULT_THRESHOLD = 92.0  # trestle.settings: sync.fuzzy_threshold's default
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def match_names(
    contacts: Sequence[tuple[str, str]],
    vendors: Sequence[tuple[str, str, str | None]],
    threshold: float = DEFAULT_THRESHOLD,
) -> dict[str, str]:
    """Contact id → linked vendor id, by same name then fuzzy name, as the vendors integration matches."""
    index = NameIndex(vendors)
    names = dict(contacts)
    steps = (
        ("name", lambda contact_id: index.same_name(names[contact_id])),
        ("fuzzy_name", lambda contact_id: [hit for hit, _ in index.fuzzy(names[contact_id], threshold)]),
    )
    decisions = resolve(names, steps, frozenset())
    return {contact_id: d.target_id for contact_id, d in decisions.items() if d.target_id}


REPEATS = 3  # each size is timed this many times and the quickest kept, as timeit does


def timed_match(size: int, repeats: int = REPEATS) -> dict[str, Any]:
    """Index and match a ``size`` × ``size`` directory; seconds and quality.

    CPU seconds are this thread's (``time.thread_time``): inside ``make bench`` the process still
    carries Prefect's background threads from the nights measured before, and the process's CPU
    clock would charge their work to the matching, more the longer it runs. The quickest of
    ``repeats`` runs is kept: a busy machine can only slow a run down, and at 2,000 names (a few
    hundredths of a second) one pause would otherwise decide the growth figure. Each run starts
    with an empty token cache.
    """
    data = directory(size)
    seconds = cpu_seconds = float("inf")
    for _ in range(repeats):
        name_tokens.cache_clear()  # no help from an earlier size or run
        started, cpu_started = time.perf_counter(), time.thread_time()
        linked = match_names(data.contacts, data.vendors)
        seconds = min(seconds, time.perf_counter() - started)
        cpu_seconds = min(cpu_seconds, time.thread_time() - cpu_started)
    precision, recall = precision_recall(data, linked)
    return {
        "contacts": len(data.contacts),
        "vendors": len(data.vendors),
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu_seconds, 3),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
    }


def run(sizes: Sequence[int] = (2_000, 20_000)) -> dict[str, Any]:
    """Every figure of the benchmark as one JSON-able dict."""
    labelled = labelled_set(2_000, 2_000, seed=7)
    precision, recall = precision_recall(labelled, match_names(labelled.contacts, labelled.vendors))
    timings = [timed_match(size) for size in sizes]
    growth = timings[-1]["cpu_seconds"] / timings[0]["cpu_seconds"] if timings[0]["cpu_seconds"] else None
    return {
        "threshold": DEFAULT_THRESHOLD,
        "labelled": {"pairs": 2_000, "negatives": 2_000, "precision": round(precision, 4), "recall": round(recall, 4)},
        "timings": timings,
        "growth": None if growth is None else round(growth, 2),
        "data_growth": sizes[-1] / sizes[0],
    }


def markdown(figures: dict[str, Any]) -> str:
    """The figures as a markdown table."""
    labelled = figures["labelled"]
    lines = [
        "## Vendor matching",
        "",
        "| set | contacts × vendors | wall s | CPU s | precision | recall |",
        "|---|---|---|---|---|---|",
        f"| labelled look-alikes | {labelled['pairs'] + labelled['negatives']:,} × — | — | — | "
        f"{labelled['precision']:.4f} | {labelled['recall']:.4f} |",
    ]
    for timing in figures["timings"]:
        lines.append(
            f"| synthetic directory | {timing['contacts']:,} × {timing['vendors']:,} | {timing['seconds']:.3f} | "
            f"{timing['cpu_seconds']:.3f} | "
            f"{timing['precision']:.4f} | {timing['recall']:.4f} |"
        )
    lines += [
        "",
        f"CPU time grows {figures['growth']}× for {figures['data_growth']:g}× the data "
        f"(fuzzy threshold {figures['threshold']:g}).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the matching benchmark, print its table and save it next to the other results."""
    parser = argparse.ArgumentParser(prog="python -m bench.matching", description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=RESULTS_DIR, help="where results are written")
    args = parser.parse_args(argv)
    figures = run()
    text = markdown(figures)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "matching-latest.json").write_text(json.dumps(figures, indent=2) + "\n")
    (args.output_dir / "matching-latest.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


@figure_row
def matching_rows(evidence: Evidence) -> list[Figure]:
    """Issue #15's matching figures in ``make bench``'s table: 20,000 × 20,000, growth, quality."""
    figures = evidence.extra.setdefault("matching", run())
    largest = figures["timings"][-1]
    labelled = figures["labelled"]
    quality = min(labelled["precision"], labelled["recall"])
    return [
        Figure(
            f"vendor matching {largest['contacts']:,} × {largest['vendors']:,} (CPU)",
            f"{largest['cpu_seconds']:.2f} s",
            "< 2 s",
            largest["cpu_seconds"] < 2,
        ),
        Figure(
            f"matching CPU growth per {figures['data_growth']:g}× data",
            f"{figures['growth']}×",
            "close to linear (≤ 20×)",
            figures["growth"] is not None and figures["growth"] <= 20,
        ),
        Figure(
            "matching precision / recall, labelled look-alikes",
            f"{labelled['precision']:.4f} / {labelled['recall']:.4f}",
            "≥ 0.98 each",
            quality >= 0.98,
        ),
    ]
