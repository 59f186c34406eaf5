"""Every Trestle deployment, defined once.

``prefect.yaml`` (for ``prefect deploy --all`` onto a work pool) and ``trestle serve`` (Prefect
``serve``, no work pool) are both built from :func:`deployments`, which reads the integrations'
declarations (name, summary, ``schedule``); a test keeps the YAML in step. A deployment's ``cron``
is its default schedule; ``[schedules.NAME]`` in the configuration overrides it
(:mod:`trestle.deployments.schedules`). Times are in ``TRESTLE_TIMEZONE`` (default
``Australia/Sydney``) unless a schedule names its own time zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from trestle.deployments.schedules import DEFAULT_TIMEZONE

__all__ = ["DEFAULT_TIMEZONE", "DeploymentSpec", "deployment_specs", "prefect_yaml"]
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
    timezone: str | None = None  # None: the install's TRESTLE_TIMEZONE
    parameters: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()


# The flows that run several integrations, by their entrypoint.
NIGHTLY_ENTRYPOINT = "trestle/flows/nightly.py:nightly_flow"
SINGLE_PROJECT_ENTRYPOINT = "trestle/flows/single_project.py:single_project_flow"
AD_HOC_PARAMETERS: dict[str, Any] = {"dry_run": False, "full_refresh": False, "notify": True}


def integration_entrypoint(name: str) -> str:
    """Where Prefect finds the flow of the integration ``name`` (see :mod:`trestle.flows.integrations`)."""
    return f"trestle/flows/integrations.py:{name}_flow"


def deployments() -> tuple[DeploymentSpec, ...]:
    """Every deployment of one pair: nightly and weekly runs, single-project, then per integration
    an ad-hoc deployment and, when it declares a ``schedule``, a scheduled one."""
    from trestle.integrations import registry

    fixed = (
        DeploymentSpec(
            "nightly",
            "nightly",
            NIGHTLY_ENTRYPOINT,
            "Every enabled integration in dependency order at 02:00, one summary email.",
            cron="0 2 * * *",
            parameters=dict(AD_HOC_PARAMETERS),
            tags=("trestle", "scheduled"),
        ),
        DeploymentSpec(
            "weekly-full-refresh",
            "nightly",
            NIGHTLY_ENTRYPOINT,
            "Sunday 04:00: the nightly run re-reading everything (catches edits that do not move Xero's "
            "UpdatedDateUTC).",
            cron="0 4 * * 0",
            parameters={**AD_HOC_PARAMETERS, "full_refresh": True},
            tags=("trestle", "scheduled"),
        ),
        DeploymentSpec(
            "single-project",
            "single_project",
            SINGLE_PROJECT_ENTRYPOINT,
            "One project by number, stage gate ignored: start it from the UI's custom run form.",
            parameters={"dry_run": False, "notify": True},
            tags=("trestle", "ad-hoc"),
        ),
    )
    scheduled = tuple(
        DeploymentSpec(
            f"{name.replace('_', '-')}-{cls.schedule.label}",
            name,
            integration_entrypoint(name),
            f"{cls.summary.removesuffix('.')}, {cls.schedule.description}.",
            cron=cls.schedule.cron,
            timezone=cls.schedule.timezone,
            parameters={**AD_HOC_PARAMETERS, "notify": False},
            tags=("trestle", "scheduled"),
        )
        for name, cls in registry().items()
        if cls.schedule is not None
    )
    ad_hoc = tuple(
        DeploymentSpec(
            name.replace("_", "-"),
            name,
            integration_entrypoint(name),
            f"Ad-hoc run of the {cls.title.lower()} integration: {cls.summary}",
            parameters=dict(AD_HOC_PARAMETERS),
            tags=("trestle", "ad-hoc"),
        )
        for name, cls in registry().items()
    )
    return (*fixed[:2], *scheduled, fixed[2], *ad_hoc)


def __getattr__(attribute: str) -> Any:
    if attribute == "DEPLOYMENTS":  # the catalog as a constant, for its readers
        return deployments()
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")


def deployment_specs(pairs: Sequence[str] = ()) -> list[DeploymentSpec]:
    """The catalog for an install: as defined for one pair, else a copy per pair.

    A pair's copy is named ``<name>-<pair>``, passes ``pair`` as a parameter and is tagged
    ``pair:<pair>`` so the UI filters by company.
    """
    if not pairs:
        return list(deployments())
    return [
        replace(
            spec,
            name=f"{spec.name}-{pair}",
            description=f"[{pair}] {spec.description}",
            parameters={**spec.parameters, "pair": pair},
            tags=(*spec.tags, f"pair:{pair}"),
        )
        for pair in pairs
        for spec in deployments()
    ]


def prefect_yaml(timezone: str | None = None, pairs: Sequence[str] = ()) -> dict[str, Any]:
    """The contents of ``prefect.yaml`` for these deployments on a ``process`` work pool.

    Schedules are the configured ones (``[schedules.NAME]``, see trestle/deployments/schedules.py).
    """
    from trestle.deployments.schedules import schedules_for

    entries = []
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
        entries.append(entry)
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
        "deployments": entries,
    }
