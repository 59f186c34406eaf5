"""Vendors flow: Xero contacts in the "Procore" contact group → Procore company vendors."""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from trestle.flows.common import execute, final_state


@flow(name="vendors", description="Xero contacts in the configured contact group → Procore company vendors.")
def vendors_flow(dry_run: bool = False, full_refresh: bool = False, notify: bool = True) -> State:
    """Send new and changed Xero suppliers to Procore's company directory.

    ``dry_run`` does everything but the writes and reports what would change; ``full_refresh``
    re-reads every contact instead of those changed since the last run.
    """
    report = execute("vendors", ["vendors"], dry_run=dry_run, full_refresh=full_refresh, notify=notify)
    return final_state(report)
