"""One module per integration: the parts that differ, plugged into the one pipeline.

Integrations are imported lazily by name so a broken or heavy one never slows the others.
"""

from __future__ import annotations

from importlib import import_module

from trestle.tasks.engine import Integration

# name -> "module:Class", in dependency order (the nightly flow runs them in this order)
REGISTRY: dict[str, str] = {
    "vendors": "trestle.integrations.vendors:VendorsIntegration",
    "projects": "trestle.integrations.projects:ProjectsIntegration",
    "cost_codes": "trestle.integrations.cost_codes:CostCodesIntegration",
    "commitments": "trestle.integrations.commitments:CommitmentsIntegration",
    "progress_claims": "trestle.integrations.progress_claims:ProgressClaimsIntegration",
    "payments": "trestle.integrations.payments:PaymentsIntegration",
    "direct_invoices": "trestle.integrations.direct_invoices:DirectInvoicesIntegration",
}

# what each integration needs linked first (a failure upstream skips the dependants)
DEPENDS_ON: dict[str, tuple[str, ...]] = {
    "vendors": (),
    "projects": (),
    "cost_codes": (),
    "commitments": ("vendors", "projects", "cost_codes"),
    "progress_claims": ("vendors", "projects", "cost_codes", "commitments"),
    "payments": ("progress_claims",),
    "direct_invoices": ("vendors", "projects", "cost_codes"),
}


def integration(name: str) -> type[Integration]:
    """The integration class registered under ``name``."""
    try:
        module_name, class_name = REGISTRY[name].split(":")
    except KeyError:
        raise KeyError(f"unknown integration {name!r}; known: {', '.join(REGISTRY)}") from None
    return getattr(import_module(module_name), class_name)
