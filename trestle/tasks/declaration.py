"""The parts of an integration's declaration that are data: issue codes, field mappings, schedules.

An integration class declares these once (see :class:`trestle.tasks.engine.Integration`); the
nightly order, the deployments, the settings' list of integrations, the CLI and ``trestle spec``
(the generated ``docs/INTEGRATIONS.md``) are all read from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class IssueCode:
    """A review issue an integration can raise: its code, what it means and how a person fixes it."""

    code: str
    meaning: str
    fix: str


@dataclass(frozen=True)
class FieldMap:
    """One row of an integration's mapping table: a target field and where its value comes from."""

    target: str
    source: str


@dataclass(frozen=True)
class Schedule:
    """A default schedule: a cron string in ``timezone`` (None: the install's ``TRESTLE_TIMEZONE``).

    ``label`` names the scheduled deployment (``<integration>-<label>``); ``description`` says when
    it runs in words.
    """

    cron: str
    label: str
    description: str
    timezone: str | None = None


System = Literal["procore", "xero"]

# How each system is named to people (reports, emails, docs).
SYSTEM_NAMES: dict[str, str] = {"procore": "Procore", "xero": "Xero"}

OnDeleted = Literal["report", "recreate", "propagate"]
"""What a run does when a record Trestle wrote is deleted or voided on the other side.

``report``: leave both sides as they are and raise one named review issue. ``recreate``: the
target was deleted, so write it again as a new record and re-point the link at it. ``propagate``:
the source was deleted, so delete or void its target where the target's API allows it.
"""

ON_DELETED_MEANINGS: dict[str, str] = {
    "report": "leave it and raise a review issue",
    "recreate": "write the deleted target again (once) and link the new one",
    "propagate": "delete or void the target when its source is deleted, where the API allows it",
}
