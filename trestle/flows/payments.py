"""Payments flow: Xero payments on bills from Procore → Procore contract payments."""

from __future__ import annotations

from trestle.flows.common import integration_flow

payments_flow = integration_flow("payments", "Xero payments on bills from Procore → Procore contract payments.")
