"""Vendors flow: Xero contacts in the configured contact group → Procore company vendors."""

from __future__ import annotations

from trestle.flows.common import integration_flow

vendors_flow = integration_flow("vendors", "Xero contacts in the configured contact group → Procore company vendors.")
