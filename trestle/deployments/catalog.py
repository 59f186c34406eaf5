"""Every Trestle deployment, defined once.

``prefect.yaml`` (for ``prefect deploy --all`` onto a work pool) and ``trestle serve`` (Prefect
``serve``, no work pool) are both built from :data:`DEPLOYMENTS`; a test keeps the YAML in step.
``cron`` is a deployment's default schedule; ``[schedules.NAME]`` in the configuration overrides
it (:mod:`trestle.deployments.schedules`). Times are in ``TRESTLE_TIMEZONE`` (default
``Australia/Sydney``) unless a schedule names its own time zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from trestle.deployments.schedules import DEFAULT_TIMEZONE

__all__ = ["DEFAULT_TIMEZONE", "DEPLOYMENTS", "DeploymentSpec", "deployment_specs", "prefect_yaml"]
WORK_POOL = "trestle"
LATE_RUN_GRACE_MINUTES = 60


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment: which flow, when, with which default parameters."""

    name: str
    flow: str  # key in trestle.flows
    entrypoint: str
    description: str
    cron: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()


def _entry(module: str, attribute: str) -> str:
    return f"trestle/flows/{module}.py:{attribute}"


DEPLOYMENTS: tuple[DeploymentSpec, ...] = (
    DeploymentSpec(
        "nightly",
        "nightly",
        _entry("nightly", "nightly_flow"),
        "Every enabled integration in dependency order at 02:00, one summary email.",
        cron="0 2 * * *",
        parameters={"dry_run": False, "full_refresh": False, "notify": True},
        tags=("trestle", "scheduled"),
    ),
    DeploymentSpec(
        "weekly-full-refresh",
        "nightly",
        _entry("nightly", "nightly_flow"),
        "Sunday 04:00: the nightly run re-reading everything (catches edits that do not move Xero's UpdatedDateUTC).",
        cron="0 4 * * 0",
        parameters={"dry_run": False, "full_refresh": True, "notify": True},
        tags=("trestle", "scheduled"),
    ),
    DeploymentSpec(
        "payments-hourly",
        "payments",
        _entry("payments", "payments_flow"),
        "Xero payments → Procore contract payments, every hour at :15.",
        cron="15 * * * *",
        parameters={"dry_run": False, "full_refresh": False, "notify": False},
        tags=("trestle", "scheduled"),
    ),
    DeploymentSpec(
        "single-project",
        "single_project",
        _entry("single_project", "single_project_flow"),
        "One project by number, stage gate ignored: start it from the UI's custom run form.",
        parameters={"dry_run": False, "notify": True},
        tags=("trestle", "ad-hoc"),
    ),
    *(
        DeploymentSpec(
            name.replace("_", "-"),
            name,
            _entry(name, f"{name}_flow"),
            f"Ad-hoc run of the {name.replace('_', ' ')} integration.",
            parameters={"dry_run": False, "full_refresh": False, "notify": True},
            tags=("trestle", "ad-hoc"),
        )
        for name in (
            "vendors",
            "projects",
            "cost_codes",
            "commitments",
            "progress_claims",
            "payments",
            "direct_invoices",
        )
    ),
)


def deployment_specs(pairs: Sequence[str] = ()) -> list[DeploymentSpec]:
    """The catalog for an install: as defined for one pair, else a copy per pair.

    A pair's copy is named ``<name>-<pair>``, passes ``pair`` as a parameter and is tagged
    ``pair:<pair>`` so the UI filters by company.
    """
    if not pairs:
        return list(DEPLOYMENTS)
    return [
        replace(
            spec,
            name=f"{spec.name}-{pair}",
            description=f"[{pair}] {spec.description}",
            parameters={**spec.parameters, "pair": pair},
            tags=(*spec.tags, f"pair:{pair}"),
        )
        for pair in pairs
        for spec in DEPLOYMENTS
    ]


def prefect_yaml(timezone: str | None = None, pairs: Sequence[str] = ()) -> dict[str, Any]:
    """The contents of ``prefect.yaml`` for these deployments on a ``process`` work pool.

    Schedules are the configured ones (``[schedules.NAME]``, see trestle/deployments/schedules.py).
    """
    from trestle.deployments.schedules import schedules_for

    deployments = []
    specs = deployment_specs(pairs)
    for spec, schedule in zip(specs, schedules_for(specs, timezone), strict=True):
        entry: dict[str, Any] = {
            "name": spec.name,
            "entrypoint": spec.entrypoint,
            "description": spec.description,
            "tags": list(spec.tags),
            "parameters": dict(spec.parameters),
            "work_pool": {"name": WORK_POOL, "work_queue_name": "default"},
            "concurrency_limit": {"limit": 1, "collision_strategy": "CANCEL_NEW"},
            "schedules": [schedule.to_yaml()] if schedule else [],
        }
        deployments.append(entry)
    return {
        "name": "trestle",
        "prefect-version": "3.8.8",
        "build": None,
        "push": None,
        "pull": [
            {
                "prefect.deployments.steps.set_working_directory": {
                    "directory": "{{ $TRESTLE_PROJECT_DIR }}",
                }
            }
        ],
        "deployments": deployments,
    }
