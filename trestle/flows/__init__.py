"""One thin Prefect flow per integration, plus the nightly and single-project flows."""

from __future__ import annotations

from importlib import import_module
from typing import Any

_FLOWS: dict[str, str] = {
    "vendors": "trestle.flows.vendors:vendors_flow",
    "projects": "trestle.flows.projects:projects_flow",
    "cost_codes": "trestle.flows.cost_codes:cost_codes_flow",
    "commitments": "trestle.flows.commitments:commitments_flow",
    "progress_claims": "trestle.flows.progress_claims:progress_claims_flow",
    "payments": "trestle.flows.payments:payments_flow",
    "direct_invoices": "trestle.flows.direct_invoices:direct_invoices_flow",
    "nightly": "trestle.flows.nightly:nightly_flow",
    "single_project": "trestle.flows.single_project:single_project_flow",
}


def get_flow(name: str) -> Any:
    """The Prefect flow object registered under ``name`` (KeyError if unknown)."""
    module_name, attribute = _FLOWS[name].split(":")
    return getattr(import_module(module_name), attribute)


def flow_names() -> list[str]:
    return list(_FLOWS)
