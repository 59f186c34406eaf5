"""Serve every deployment from this process (Prefect ``serve``): the single-box install.

No work pool or worker is needed: this process polls the Prefect server for scheduled and
ad-hoc runs of these deployments and runs them in subprocesses. Stop it with Ctrl-C / SIGTERM.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.types.entrypoint import EntrypointType

from trestle.deployments.catalog import deployment_specs
from trestle.deployments.schedules import schedules_for
from trestle.flows import get_flow


def runner_deployments(timezone: str | None = None, pairs: Sequence[str] = ()) -> list[Any]:
    """Every deployment in the catalog (once per configured pair) as a Prefect ``RunnerDeployment``.

    Schedules come from :mod:`trestle.deployments.schedules`; each deployment is given its
    list explicitly (empty when unscheduled), so the configuration replaces UI edits on restart.
    """
    specs = deployment_specs(pairs)
    deployments = []
    for spec, schedule in zip(specs, schedules_for(specs, timezone), strict=True):
        flow = get_flow(spec.flow)
        deployments.append(
            flow.to_deployment(
                name=spec.name,
                description=spec.description,
                tags=list(spec.tags),
                parameters=dict(spec.parameters),
                schedules=[schedule.to_prefect()] if schedule else [],
                entrypoint_type=EntrypointType.MODULE_PATH,  # the installed package, whatever the cwd
                concurrency_limit=ConcurrencyLimitConfig(
                    limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
                ),
            )
        )
    return deployments


def serve_all(timezone: str | None = None, limit: int | None = None) -> None:
    """Register the deployments (one set per configured pair) and run their flow runs until stopped."""
    from prefect import serve

    from trestle.settings import pair_names

    serve(*runner_deployments(timezone, pair_names()), limit=limit)
