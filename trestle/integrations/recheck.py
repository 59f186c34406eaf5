"""Which records with open issues a run re-reads: only those whose blocker may have gone.

The pipeline hands ``fetch_by_ids`` every record with an open issue. Re-reading all of them every
night costs calls that buy nothing when the issue is about something that has not changed: a
claim blocked on "vendor not linked" stays blocked until that vendor is linked, and a claim
billing 0.00 stays so until the claim itself changes (when its ``updated_at`` moves and the
incremental read brings it back anyway). :func:`still_blocked` keeps, for each record, the issues
whose blocker is known to be unchanged; a record all of whose issues are such is not re-read and
its issues stay open as they are. Any other issue (a write Xero refused, a deleted target, a
BILLED order, a code this module does not know) is re-read every run.

Blockers, as the integrations read them from the link store (no API call):

- ``"link"`` rules: the vendor, project, … named in the issue's details is now linked;
- ``"links_stamp"``: a digest of a whole link table (:func:`links_stamp`, e.g. the cost codes'
  Xero options) stored in the issue's details differs from tonight's;
- ``"record"``: only a change to the record itself clears it (its own cursor brings it back).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from trestle.models.links import LinkRow

if TYPE_CHECKING:
    from trestle.tasks.context import RunContext

STAMP = "links_stamp"
"""The issue detail holding :func:`links_stamp` of the links its blocker depends on."""

Blocker = Callable[[dict[str, Any]], bool]
"""Given an issue's details: True while its blocker is certainly still there."""


def applies(ctx: RunContext) -> bool:
    """Whether this run filters its re-checks: not a dry run (it shows everything), a full refresh
    or a run of named records (``--record``: those are read whatever their issues say)."""
    return not (ctx.dry_run or ctx.options.full_refresh or ctx.options.record_ids is not None)


def links_stamp(links: Iterable[LinkRow]) -> str:
    """A short digest of a link table as it is now: which records are linked and to what."""
    rows = sorted(f"{link.procore_id}|{link.xero_id}|{link.fingerprint or ''}" for link in links)
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]


def record_only(details: dict[str, Any]) -> bool:
    """The issue is about the record's own values: only its own change (a new ``updated_at``) clears it."""
    return True


def unchanged_stamp(current: Callable[[], str]) -> Blocker:
    """Blocked while the issue's stored stamp equals ``current()`` (an issue with none is re-read)."""
    return lambda details: details.get(STAMP) is not None and details.get(STAMP) == current()


def still_unlinked(key: str, linked: Callable[[Any], object], *, unnamed_blocks: bool = True) -> Blocker:
    """Blocked while ``details[key]`` names something ``linked`` finds nothing for. With nothing
    named, the record itself must change (``unnamed_blocks``), or — for issues raised before the
    detail was recorded — it is re-read."""
    return lambda details: unnamed_blocks if details.get(key) is None else not linked(details[key])


def to_recheck(
    ids: Sequence[str], issues: Iterable[Any], blockers: Mapping[str, Blocker], *, always: Iterable[str] = ()
) -> list[str]:
    """``ids`` without the records all of whose open issues are still blocked (see the module docstring).

    ``issues`` are the integration's open review issues (``record_id``, ``code``, ``details``);
    ``always`` are ids re-read whatever their issues say (a failed write, a deletion check's find).
    """
    blocked: dict[str, bool] = {}
    for issue in issues:
        rule = blockers.get(issue.code)
        holds = rule is not None and rule(dict(issue.details or {}))
        blocked[issue.record_id] = blocked.get(issue.record_id, True) and holds
    keep = set(always)
    return [record_id for record_id in ids if record_id in keep or not blocked.get(record_id, False)]
