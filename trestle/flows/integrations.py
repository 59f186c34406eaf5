"""The Prefect flow of each integration, made from its declaration; none is written by hand.

``trestle.flows.integrations.<name>_flow`` is the flow of the integration ``<name>``: this
module builds it on first access (module ``__getattr__``), so Prefect entrypoints —
``trestle/flows/integrations.py:vendors_flow`` in ``prefect.yaml``,
``trestle.flows.integrations.vendors_flow`` for ``trestle serve`` — load it like any flow
defined at module level, and a new integration needs no flow module of its own.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from prefect import Flow, State, flow
from prefect.states import Completed

from trestle.flows.common import execute, final_state
from trestle.flows.guard import superseded_reason
from trestle.integrations import integration, names
from trestle.settings import load_settings

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
        settings = load_settings(pair)
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

    run_one.__doc__ = f"{cls.summary}\n\n{PARAMETERS_DOC}"
    # The attribute this module serves it under, so an entrypoint built from the flow finds it again.
    run_one.__name__ = run_one.__qualname__ = f"{name}{SUFFIX}"
    return flow(name=name.replace("_", "-"), description=cls.summary, validate_parameters=True)(run_one)


def __getattr__(attribute: str) -> Any:
    if attribute.endswith(SUFFIX) and attribute.removesuffix(SUFFIX) in names():
        return integration_flow(attribute.removesuffix(SUFFIX))
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *(f"{name}{SUFFIX}" for name in names())])
