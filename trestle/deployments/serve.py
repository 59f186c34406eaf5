"""Serve every deployment from this process (Prefect ``serve``): the single-box install.

No work pool or worker is needed: this process polls the Prefect server for scheduled and
ad-hoc runs of these deployments and runs them in subprocesses. Stop it with Ctrl-C / SIGTERM.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import EntrypointType
from prefect.schedules import Cron

from trestle.deployments.catalog import DEFAULT_TIMEZONE, deployment_specs
from trestle.flows import get_flow


def runner_deployments(timezone: str | None = None, pairs: Sequence[str] = ()) -> list[Any]:
    """Every deployment in the catalog (once per configured pair) as a Prefect ``RunnerDeployment``."""
    timezone = timezone or os.environ.get("TRESTLE_TIMEZONE", DEFAULT_TIMEZONE)
    deployments = []
    for spec in deployment_specs(pairs):
        flow = get_flow(spec.flow)
        deployments.append(
            flow.to_deployment(
                name=spec.name,
                description=spec.description,
                tags=list(spec.tags),
                parameters=dict(spec.parameters),
                schedules=[Cron(spec.cron, timezone=spec.timezone or timezone)] if spec.cron else None,
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
