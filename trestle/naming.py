"""How Procore records are named in Xero (tracking options); shared by the integrations and
the sandbox seed so pre-existing options in the demo data match what Trestle would create."""

from __future__ import annotations

XERO_OPTION_NAME_LIMIT = 100


def project_option_name(number: str, name: str) -> str:
    """A project's "Project" tracking option: ``"<number> <name>"``, at most 100 characters."""
    return f"{number} {name}".strip()[:XERO_OPTION_NAME_LIMIT]


def cost_code_option_name(full_code: str, name: str) -> str:
    """A standard cost code's "Cost Code" option: ``"<full code> <name>"``, at most 100 characters."""
    return f"{full_code} {name}".strip()[:XERO_OPTION_NAME_LIMIT]
