"""The Prefect flow of each integration (and its task in a nightly run), made from its declaration; none is
written by hand.

``trestle.flows.integrations.<name>_flow`` is the flow of the integration ``<name>``: this
module builds it on first access (module ``__getattr__``), so Prefect entrypoints —
``trestle/flows/integrations.py:vendors_flow`` in ``prefect.yaml``,
``trestle.flows.integrations.vendors_flow`` for ``trestle serve`` — load it like any flow
defined at module level, and a new integration needs no flow module of its own.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from prefect import Flow, State, Task, flow, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed

from trestle.flows.common import execute, final_state
from trestle.flows.guard import superseded_reason
from trestle.integrations import integration, names
from trestle.tasks.context import night_settings

SUFFIX = "_flow"

PARAMETERS_DOC = (
    "``dry_run`` does everything but the writes and reports what would change; "
    "``full_refresh`` re-reads every source record instead of those changed since the last run; "
    "``notify`` sends the summary email; ``pair`` names the Procore company / Xero tenant pair "
    "(default: TRESTLE_PAIR); ``records`` (source record ids) runs only those records: nothing else is read "
    "or written and no cursor moves."
)


@cache
def integration_flow(name: str) -> Flow[..., State]:
    """The Prefect flow running the one integration ``name`` (one object per name)."""
    cls = integration(name)

    def run_one(
        dry_run: bool = False,
        full_refresh: bool = False,
        notify: bool = True,
        pair: str | None = None,
        records: list[str] | None = None,
    ) -> State:
        if reason := superseded_reason():
            return Completed(message=reason)
        return run_integration_now(
            name, dry_run=dry_run, full_refresh=full_refresh, notify=notify, pair=pair, records=records
        )

    run_one.__doc__ = f"{cls.summary}\n\n{PARAMETERS_DOC}"
    # The attribute this module serves it under, so an entrypoint built from the flow finds it again.
    run_one.__name__ = run_one.__qualname__ = f"{name}{SUFFIX}"
    return flow(name=name.replace("_", "-"), description=cls.summary, validate_parameters=True)(run_one)


@cache
def integration_task(name: str) -> Task[..., State]:
    """The task a nightly run runs ``name`` as (one object per name).

    One named task run per integration, ending in the integration's state with its artifacts and
    its stages as child task runs: what a subflow showed, at a tenth of its cost (a subflow's
    start and end are API round trips; a task run's are events). No retries: a failed
    integration is reported, and the next run finishes what it left.
    """
    cls = integration(name)

    def run_in_night(dry_run: bool = False, full_refresh: bool = False, pair: str | None = None) -> State:
        return run_integration_now(name, dry_run=dry_run, full_refresh=full_refresh, notify=False, pair=pair)

    run_in_night.__doc__ = cls.summary
    run_in_night.__name__ = run_in_night.__qualname__ = f"{name}_task"
    shown = name.replace("_", "-")
    return task(name=shown, task_run_name=shown, description=cls.summary, cache_policy=NO_CACHE, persist_result=False)(
        run_in_night
    )


def run_integration_now(
    name: str,
    *,
    dry_run: bool,
    full_refresh: bool,
    notify: bool,
    pair: str | None,
    records: list[str] | None = None,
) -> State:
    """Run ``name`` inside the current flow or task run; its final state carries the report."""
    settings = night_settings(pair)
    report = execute(
        name,
        [name],
        dry_run=dry_run,
        full_refresh=full_refresh,
        notify=notify,
        settings=settings,
        records=records,
    )
    return final_state(report)


def __getattr__(attribute: str) -> Any:
    if attribute.endswith(SUFFIX) and attribute.removesuffix(SUFFIX) in names():
        return integration_flow(attribute.removesuffix(SUFFIX))
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *(f"{name}{SUFFIX}" for name in names())])
