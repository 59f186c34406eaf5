"""What each integration declares about itself, for the specifications page.

:func:`specification` is the one place the portal asks; it reads the integration classes today
and is where a generated specification (``trestle spec``) plugs in when there is one.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from trestle.integrations import DEPENDS_ON, REGISTRY, integration


@dataclass(frozen=True)
class Specification:
    name: str
    title: str
    direction: str
    entity: str
    source_system: str
    target_system: str
    depends_on: tuple[str, ...]
    description: str
    issue_fixes: dict[str, str]


def specification(name: str) -> Specification:
    """The specification of integration ``name`` (KeyError if unknown)."""
    cls = integration(name)
    return Specification(
        name=cls.name,
        title=cls.title,
        direction=cls.direction_text(),
        entity=cls.entity,
        source_system=cls.source_system,
        target_system=cls.target_system,
        depends_on=DEPENDS_ON.get(name, ()),
        description=inspect.cleandoc(cls.__doc__ or ""),
        issue_fixes=dict(cls.issue_fixes),
    )


def specifications() -> list[Specification]:
    """Every integration's specification, in dependency order."""
    return [specification(name) for name in REGISTRY]
