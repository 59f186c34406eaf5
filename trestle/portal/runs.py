"""Starting and following runs through the Prefect API (the deployments ``trestle serve`` serves).

A run is a flow run of a catalogued deployment (:mod:`trestle.deployments.catalog`), created with
an idempotency key from the form that asked for it, so a form sent twice (a double click, a
browser retry after a lost answer) starts one run, not two. "Debug mode" is a dry run: everything
is read, checked and reported, nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL

from trestle.deployments.catalog import DeploymentSpec, deployment_specs
from trestle.flows import get_flow
from trestle.integrations import REGISTRY
from trestle.settings import pair_names

SINGLE_PROJECT = "single_project"


class RunNotStarted(Exception):
    """Prefect has no such deployment, or could not be reached."""


@dataclass(frozen=True)
class Startable:
    """A deployment a person may start from the runs page."""

    key: str  # what the form sends: an integration name, or "single_project"
    title: str
    spec: DeploymentSpec


def startable(pair: str) -> list[Startable]:
    """Each integration's ad-hoc deployment, and single-project, for ``pair``."""
    pairs = pair_names()
    specs = {spec.flow: spec for spec in deployment_specs(pairs) if "ad-hoc" in spec.tags and _pair_of(spec) == pair}
    items = [Startable(name, name.replace("_", " ").capitalize(), specs[name]) for name in REGISTRY if name in specs]
    if SINGLE_PROJECT in specs:
        items.append(Startable(SINGLE_PROJECT, "Single project", specs[SINGLE_PROJECT]))
    return items


def _pair_of(spec: DeploymentSpec) -> str:
    return str(spec.parameters.get("pair") or "default")


def ui_url() -> str | None:
    """The Prefect UI's address (``PREFECT_UI_URL``, else derived from ``PREFECT_API_URL``)."""
    configured = PREFECT_UI_URL.value()
    if configured:
        return str(configured).rstrip("/")
    api = PREFECT_API_URL.value()
    return str(api).rstrip("/").removesuffix("/api") if api else None


def flow_run_url(flow_run_id: str | None) -> str | None:
    base = ui_url()
    return f"{base}/runs/flow-run/{flow_run_id}" if base and flow_run_id else None


async def start(item: Startable, *, debug: bool, idempotency_key: str, project_number: str | None = None) -> str:
    """Create a flow run of ``item``'s deployment; its id."""
    parameters: dict[str, Any] = {"dry_run": debug}
    if item.key == SINGLE_PROJECT:
        if not project_number:
            raise RunNotStarted("a single-project run needs a project number")
        parameters["project_number"] = project_number
    name = f"{get_flow(item.spec.flow).name}/{item.spec.name}"
    try:
        async with get_client() as client:
            deployment = await client.read_deployment_by_name(name)
            flow_run = await client.create_flow_run_from_deployment(
                deployment.id,
                parameters=parameters,
                idempotency_key=idempotency_key,
                tags=["portal", *(["debug"] if debug else [])],
            )
    except Exception as exc:  # ObjectNotFound, HTTP errors, no API configured: say which, plainly
        raise RunNotStarted(f"{name} could not be started ({type(exc).__name__})") from None
    return str(flow_run.id)


@dataclass(frozen=True)
class Progress:
    flow_run_id: str
    name: str
    deployment_id: str | None
    state: str
    message: str | None
    final: bool
    parameters: dict[str, Any]


async def progress(flow_run_id: str) -> Progress:
    """Where a flow run is now."""
    try:
        async with get_client() as client:
            flow_run = await client.read_flow_run(UUID(flow_run_id))
    except Exception as exc:
        raise RunNotStarted(f"flow run {flow_run_id} could not be read ({type(exc).__name__})") from None
    state = flow_run.state
    return Progress(
        flow_run_id=flow_run_id,
        name=flow_run.name,
        deployment_id=str(flow_run.deployment_id) if flow_run.deployment_id else None,
        state=state.name if state and state.name else "Unknown",
        message=state.message if state else None,
        final=bool(state and state.is_final()),
        parameters=dict(flow_run.parameters or {}),
    )
