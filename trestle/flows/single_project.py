"""Single-project flow: link one project (whatever its stage), then run every project-scoped
integration for it alone. For engineers fixing or fast-tracking one job."""

from __future__ import annotations

from prefect import State, flow
from prefect.states import Failed

from trestle.flows.common import execute, final_state
from trestle.integrations import per_project
from trestle.settings import load_settings
from trestle.tasks.context import RunContext, RunOptions


@flow(
    name="single-project",
    description="One project by number: link it, then its commitments, claims, payments and direct invoices.",
)
def single_project_flow(
    project_number: str, dry_run: bool = False, notify: bool = True, pair: str | None = None
) -> State:
    """Run the project-scoped integrations (declared ``per_project``) for the project numbered ``project_number``.

    The stage gate is ignored: asking for a project by number is the decision to send it.
    Company-wide integrations (vendors, cost codes) are not run; run them first if the
    project's commitments name vendors or cost codes Xero does not know yet. ``pair`` names the
    Procore company / Xero tenant pair (default: TRESTLE_PAIR).
    """
    settings = load_settings(pair)
    settings.require_connections()
    lookup = RunContext(settings)
    try:
        wanted = project_number.strip().casefold()
        matches = [
            p for p in lookup.procore.iter_projects(by_status="All") if (p.project_number or "").casefold() == wanted
        ]
    finally:
        lookup.close()
    if len(matches) != 1:
        problem = "no Procore project has" if not matches else f"{len(matches)} Procore projects have"
        return Failed(message=f"{problem} project number {project_number!r}")
    # One project is cheap to read whole, and an engineer asking for it wants everything re-checked.
    options = RunOptions(dry_run=dry_run, full_refresh=True, project_ids={matches[0].id}, ignore_stage_gate=True)
    names = [name for name in per_project() if name in settings.sync.integrations]
    report = execute(
        f"single-project-{matches[0].project_number}", names, notify=notify, settings=settings, options=options
    )
    return final_state(report)
