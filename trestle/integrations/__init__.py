"""One module per integration: the parts that differ, plugged into the one pipeline."""

from __future__ import annotations

from trestle.integrations.vendors import VendorsIntegration
from trestle.tasks.engine import Integration

REGISTRY: dict[str, type[Integration]] = {
    VendorsIntegration.name: VendorsIntegration,
}


def integration(name: str) -> type[Integration]:
    """The integration class registered under ``name``."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown integration {name!r}; known: {', '.join(REGISTRY)}") from None
