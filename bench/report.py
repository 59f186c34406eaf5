"""Benchmark results as JSON and as a markdown table (the table is also printed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.measure import RunMeasurement
from bench.scenarios import IntegrationResult, LostResponseResult

_COLUMNS = (
    "integration",
    "run",
    "outcome",
    "records",
    "xero calls",
    "procore calls",
    "xero/rec",
    "procore/rec",
    "writes x/p",
    "retries x/p",
    "wall s",
    "bound s real (x/p)",
    "bound s enforced",
    "wall/bound",
    "peak RSS MB",
)


def results_dict(meta: dict[str, Any], results: list[IntegrationResult], skipped: dict[str, str]) -> dict[str, Any]:
    """The whole benchmark as one JSON-able dict."""
    return {
        **meta,
        "skipped_integrations": skipped,
        "integrations": [_integration_dict(result) for result in results],
    }


def _integration_dict(result: IntegrationResult) -> dict[str, Any]:
    scope = result.records_in_scope
    return {
        "integration": result.integration,
        "depends_on": result.depends_on,
        "records_in_scope": scope,
        "first_run": result.first_run.as_dict(scope) if result.first_run else None,
        "incremental": result.incremental.as_dict(scope) if result.incremental else None,
        "lost_responses": [_lost_dict(item, scope) for item in result.lost_responses],
    }


def _lost_dict(item: LostResponseResult, scope: int) -> dict[str, Any]:
    return {
        "lost_rate": item.lost_rate,
        "seed": item.seed,
        "faulted": item.faulted.as_dict(scope),
        "follow_up": item.follow_up.as_dict(scope),
        "extra_calls": item.extra_calls,
        "extra_seconds": item.extra_seconds,
        "same_objects_as_clean_run": item.same_objects_as_clean_run,
    }


def _pair(values: dict[str, Any]) -> str:
    return f"{values.get('xero', 0)}/{values.get('procore', 0)}"


def _row(name: str, run: RunMeasurement, scope: int) -> list[str]:
    per_record = run.calls_per_record(scope)
    bound = run.bound
    enforced = bound["enforced"]["run"] if bound.get("enforced") else None
    ratio = run.wall_over_enforced_bound
    return [
        name,
        run.label,
        run.outcome,
        str(run.records),
        str(run.sandbox_calls["xero"]),
        str(run.sandbox_calls["procore"]),
        "—" if per_record["xero"] is None else f"{per_record['xero']:.3f}",
        "—" if per_record["procore"] is None else f"{per_record['procore']:.3f}",
        _pair(run.write_calls),
        _pair(run.retries),
        f"{run.wall_seconds:.2f}",
        f"{bound['real']['run']:g} ({bound['real']['xero']:g}/{bound['real']['procore']:g})",
        "off" if enforced is None else f"{enforced:.2f}",
        "—" if ratio is None else f"{ratio:.2f}",
        "—" if run.memory.rss_peak_mb is None else f"{run.memory.rss_peak_mb:.0f}",
    ]


def markdown(meta: dict[str, Any], results: list[IntegrationResult], skipped: dict[str, str]) -> str:
    """A markdown page: the settings, one table row per measured run, recovery lines, skipped integrations."""
    lines = [
        f"# Trestle benchmark — {meta['started_at']}",
        "",
        f"Dataset **{meta['dataset']}**, rate limits **{meta['rate_limits']}**, "
        f"Prefect temporary server start **{meta['prefect_startup_seconds']:.1f} s** (paid once, not in the runs), "
        f"Python {meta['python']}, {meta['cpus']} CPU(s).",
        "",
        "| " + " | ".join(_COLUMNS) + " |",
        "|" + "|".join("---" for _ in _COLUMNS) + "|",
    ]
    recovery: list[str] = []
    for result in results:
        scope = result.records_in_scope
        runs = [result.first_run, result.incremental]
        for item in result.lost_responses:
            runs += [item.faulted, item.follow_up]
            recovery.append(
                f"- **{result.integration}**, lost_rate {item.lost_rate:g} (seed {item.seed}): "
                f"{_pair(item.extra_calls)} extra calls (Xero/Procore) and {item.extra_seconds:+.2f} s over the clean "
                f"pair of runs; client retries {_pair(item.faulted.retries)}, "
                f"{item.faulted.counts['failed']} record(s) failed in the faulted run; sandbox objects "
                f"{'identical to' if item.same_objects_as_clean_run else '**DIFFERENT from**'} the clean chain."
            )
        for run in runs:
            if run is not None:
                lines.append("| " + " | ".join(_row(result.integration, run, scope)) + " |")
    if recovery:
        lines += ["", "Lost responses:", "", *recovery]
    if skipped:
        lines += ["", "Not benchmarked:", ""]
        lines += [f"- {name}: {reason}" for name, reason in skipped.items()]
    lines += ["", "How to read this: see `bench/README.md`."]
    return "\n".join(lines) + "\n"


def write_results(
    folder: Path, stem: str, meta: dict[str, Any], results: list[IntegrationResult], skipped: dict[str, str]
) -> tuple[Path, Path, str]:
    """Write ``<stem>.json`` and ``<stem>.md`` into ``folder``; return both paths and the markdown."""
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / f"{stem}.json"
    json_path.write_text(json.dumps(results_dict(meta, results, skipped), indent=2, default=str) + "\n")
    text = markdown(meta, results, skipped)
    markdown_path = folder / f"{stem}.md"
    markdown_path.write_text(text)
    return json_path, markdown_path, text
