"""The Prefect flows: one per integration (made from its declaration), nightly and single-project."""

from __future__ import annotations

from typing import Any

from trestle.integrations import names

RUN_FLOWS = ("nightly", "single_project")  # the flows that run several integrations


def get_flow(name: str) -> Any:
    """The Prefect flow registered under ``name``: an integration's name, or one of :data:`RUN_FLOWS`."""
    if name == "nightly":
        from trestle.flows.nightly import nightly_flow

        return nightly_flow
    if name == "single_project":
        from trestle.flows.single_project import single_project_flow

        return single_project_flow
    if name not in names():
        raise KeyError(f"unknown flow {name!r}; known: {', '.join(flow_names())}")
    from trestle.flows.integrations import integration_flow

    return integration_flow(name)


def flow_names() -> list[str]:
    """Every flow's name: the integrations in nightly order, then nightly and single-project."""
    return [*names(), *RUN_FLOWS]
