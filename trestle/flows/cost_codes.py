"""Cost codes flow: The Procore standard cost code list → options of the Xero "Cost Code" tracking category."""

from __future__ import annotations

from trestle.flows.common import integration_flow

cost_codes_flow = integration_flow(
    "cost_codes", 'The Procore standard cost code list → options of the Xero "Cost Code" tracking category.'
)
