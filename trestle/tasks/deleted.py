"""Deleted records: what a run does when a record Trestle wrote is deleted or voided on the other side.

Each integration declares the policies it supports (``Integration.on_deleted``, the first is its
default) and the settings choose one per integration (``[sync.on_deleted]``,
``TRESTLE_SYNC_ON_DELETED_<NAME>``; :class:`~trestle.settings.SyncSettings` refuses a choice the
integration does not support). Two things can be gone:

- **the target** (a Xero bill voided by the bookkeeper): the integration says so through
  :meth:`~trestle.tasks.engine.Integration.target_gone`. ``report`` (and ``propagate``, which
  concerns deleted sources) raise ``<entity>.deleted_in_<target system>`` and write nothing, so a
  record deleted on purpose is never silently re-created; ``recreate`` plans a create: the new
  target replaces the old one in the link (the deleted one stays in the target system's own
  history), and its idempotency key names the target it replaces, so it is not the first write's
  key replayed.
- **the source** (a Procore claim deleted): the integration returns a :class:`Record` whose
  ``data`` is a :class:`SourceGone`. ``propagate`` asks the integration for the update that
  deletes or voids the target (:meth:`~trestle.tasks.engine.Integration.propagation_payload`),
  which is planned and written like any update — through an intent, never resent blind, and
  ``unchanged`` once its link records it; any other policy raises
  ``<entity>.deleted_in_<source system>``.

Records to look at are found by :meth:`~trestle.tasks.engine.Integration.deletion_candidates`
(the pipeline re-reads them with the records that have open issues), at the fewest calls the
integration can manage; a record reported stays an open issue and is re-read every run, so
changing the setting later acts on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from trestle.jsonable import jsonable
from trestle.tasks.declaration import ON_DELETED_MEANINGS, SYSTEM_NAMES, IssueCode, OnDeleted, System
from trestle.tasks.engine import Integration, Record, diff, fingerprint

if TYPE_CHECKING:
    from trestle.settings import SyncSettings
    from trestle.tasks.state import PipelineRun

STREAM = "deleted"
"""The cursor of an integration's deletion checks (moved to each run's start)."""


@dataclass(frozen=True)
class SourceGone:
    """Stands in for a linked source record that no longer exists in its system."""

    source_id: str
    system: System
    reason: str  # "not found in Procore", in words


def setting_name(integration_name: str) -> str:
    """The environment variable that chooses ``integration_name``'s policy."""
    return f"TRESTLE_SYNC_ON_DELETED_{integration_name.upper()}"


def policy_of(cls: type[Integration], sync: SyncSettings) -> OnDeleted:
    """The policy chosen for ``cls`` (its declared default when none is)."""
    chosen = sync.on_deleted.get(cls.name)
    return next((policy for policy in cls.on_deleted if policy == chosen), cls.on_deleted[0])


def deleted_issue(cls_entity: str, integration_name: str, system: System, what: str, fix: str) -> IssueCode:
    """The review issue ``<entity>.deleted_in_<system>``, its fix naming the setting that changes it."""
    return IssueCode(
        f"{cls_entity}.deleted_in_{system}",
        f"{what} was deleted or voided in {SYSTEM_NAMES[system]}",
        f"{fix} To have Trestle act instead, set {setting_name(integration_name)} "
        f"([sync.on_deleted] {integration_name}).",
    )


def policy_text(cls: type[Integration]) -> str:
    """The spec's sentence on deleted records (``trestle spec``, docs/INTEGRATIONS.md)."""
    choices = "; ".join(
        f"`{policy}`{' (default)' if index == 0 else ''}: {ON_DELETED_MEANINGS[policy]}"
        for index, policy in enumerate(cls.on_deleted)
    )
    return f"`{setting_name(cls.name)}` — {choices}"


def is_gone_source(record: Record) -> bool:
    """Whether ``record`` stands for a source that no longer exists (the integration's rules skip it)."""
    return isinstance(record.data, SourceGone)


def plan_gone_source(run: PipelineRun, record: Record) -> bool:
    """Plan a record whose source is gone (True if it is one): report it, or the update that deletes
    its target, once."""
    gone = record.data
    if not isinstance(gone, SourceGone):
        return False
    record.plan = "skip"
    if record.link is None:  # nothing was written for it
        return True
    integration = run.integration
    if policy_of(type(integration), run.ctx.settings.sync) != "propagate":
        record.flag(
            f"{integration.entity}.deleted_in_{gone.system}",
            f"'{record.label}' is {gone.reason}; what Trestle wrote for it in "
            f"{SYSTEM_NAMES[integration.target_system]} was left as it is.",
            reason=gone.reason,
        )
        return True
    already_gone = integration.target_gone(record) is not None
    payload = jsonable(integration.propagation_payload(record) or {})
    if record.issues or not payload:
        return True
    record.payload, record.fingerprint = payload, fingerprint(payload)
    if already_gone:  # deleted over there too: only the link learns it
        record.plan = "link"
    elif record.link.fingerprint == record.fingerprint:
        record.plan = "unchanged"
    else:
        record.plan, record.changes = "update", diff(record.link.last_payload, payload)
    return True


def screen_gone_target(run: PipelineRun, record: Record) -> bool:
    """A linked record whose target was deleted: report it or plan its re-creation (True if so)."""
    if record.link is None or isinstance(record.data, SourceGone):
        return False
    status = run.integration.target_gone(record)
    if status is None:
        return False
    integration = run.integration
    if policy_of(type(integration), run.ctx.settings.sync) == "recreate":
        record.replaces, record.link, record.target_id = record.target_id, None, None
        record.plan, record.changes = "create", []
        return True
    target = SYSTEM_NAMES[integration.target_system]
    record.flag(
        f"{integration.entity}.deleted_in_{integration.target_system}",
        f"What Trestle wrote for '{record.label}' is {status} in {target}; nothing was written again.",
        status=status,
        target_id=record.target_id,
    )
    record.plan = "skip"
    return True


def write_source_key(record: Record) -> str:
    """The source part of a write's idempotency key: a re-creation names the target it replaces."""
    return record.id if record.replaces is None else f"{record.id}|replaces:{record.replaces}"
