"""Progress claims flow: Approved Procore subcontractor invoices → Xero bills (negative claims → credit notes)."""

from __future__ import annotations

from trestle.flows.common import integration_flow

progress_claims_flow = integration_flow(
    "progress_claims", "Approved Procore subcontractor invoices → Xero bills (negative claims → credit notes)."
)
