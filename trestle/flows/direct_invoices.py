"""Direct invoices flow: Xero bills coded to a project that did not come from Procore → Procore direct costs."""

from __future__ import annotations

from trestle.flows.common import integration_flow

direct_invoices_flow = integration_flow(
    "direct_invoices", "Xero bills coded to a project that did not come from Procore → Procore direct costs."
)
