"""One module per integration: the parts that differ, plugged into the one pipeline.

An integration is a concrete :class:`~trestle.tasks.engine.Integration` subclass declared in a
module of this package; nothing else names it. :func:`registry` imports the package's modules
once (on first use) and collects those classes, so adding a module is adding an integration.
Everything that lists integrations — the nightly order, the single-project flow, the
deployments, ``sync.integrations``, the CLI, ``trestle spec`` — reads :func:`registry`.

Errors: :class:`DeclarationError` (a ``ValueError``) when declarations contradict each other
(two integrations with one name, an unknown or circular ``depends_on``); ``KeyError`` from
:func:`integration` for an unknown name.
"""

from __future__ import annotations

import inspect
import pkgutil
from functools import cache
from importlib import import_module
from typing import Any

from trestle.tasks.engine import Integration


class DeclarationError(ValueError):
    """Integration declarations that cannot all hold (duplicate names, bad dependencies)."""


@cache
def registry() -> dict[str, type[Integration]]:
    """Every integration by name, in nightly order: dependencies first, ties by name."""
    found: dict[str, type[Integration]] = {}
    for module_info in pkgutil.iter_modules(__path__, prefix=f"{__name__}."):
        module = import_module(module_info.name)
        for cls in vars(module).values():
            if _declared_in(cls, module.__name__):
                if cls.name in found:
                    raise DeclarationError(f"two integrations are named {cls.name!r}: {found[cls.name]} and {cls}")
                found[cls.name] = cls
    return {name: found[name] for name in dependency_order({name: cls.depends_on for name, cls in found.items()})}


def _declared_in(value: Any, module_name: str) -> bool:
    return (
        inspect.isclass(value)
        and issubclass(value, Integration)
        and value.__module__ == module_name
        and not inspect.isabstract(value)
        and "name" in vars(value)
    )


def dependency_order(depends_on: dict[str, tuple[str, ...]]) -> list[str]:
    """A topological order of ``depends_on`` that is stable: of the names ready, the first by name."""
    for name, needs in depends_on.items():
        unknown = sorted(set(needs) - set(depends_on))
        if unknown:
            raise DeclarationError(f"{name} depends on unknown integration(s): {', '.join(unknown)}")
    order: list[str] = []
    waiting = dict(depends_on)
    while waiting:
        ready = sorted(name for name, needs in waiting.items() if set(needs) <= set(order))
        if not ready:
            raise DeclarationError(f"circular depends_on among: {', '.join(sorted(waiting))}")
        order.append(ready[0])
        del waiting[ready[0]]
    return order


def names() -> list[str]:
    """Every integration's name, in nightly order."""
    return list(registry())


def integration(name: str) -> type[Integration]:
    """The integration class declared under ``name``."""
    try:
        return registry()[name]
    except KeyError:
        raise KeyError(f"unknown integration {name!r}; known: {', '.join(registry())}") from None


def per_project() -> list[str]:
    """The integrations the single-project flow runs, in nightly order."""
    return [name for name, cls in registry().items() if cls.per_project]


def __getattr__(attribute: str) -> Any:
    # Read-only views kept for callers of the former hand-kept tables.
    if attribute == "REGISTRY":
        return registry()
    if attribute == "DEPENDS_ON":
        return {name: cls.depends_on for name, cls in registry().items()}
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")
