"""Projects flow: Procore projects at the configured stage → options of the Xero "Project" tracking category."""

from __future__ import annotations

from trestle.flows.common import integration_flow

projects_flow = integration_flow(
    "projects", 'Procore projects at the configured stage → options of the Xero "Project" tracking category.'
)
