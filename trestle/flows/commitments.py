"""Commitments flow: Approved Procore work order and purchase order contracts → Xero purchase orders."""

from __future__ import annotations

from trestle.flows.common import integration_flow

commitments_flow = integration_flow(
    "commitments", "Approved Procore work order and purchase order contracts → Xero purchase orders."
)
