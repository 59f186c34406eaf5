"""Commitments: reading commitments and their change orders from Procore, as records to send.

Approved means work orders ``Approved`` or ``Complete`` and purchase orders ``Approved``,
``Partially Received``, ``Received`` or ``Closed``: the order stands once approved, and
completing or receiving it keeps it. Anything else (draft, out for bid/signature, processing,
submitted) is skipped with ``commitment.not_approved``. A commitment ``Void`` or ``Terminated``
after its purchase order was written turns that purchase order DELETED while it is DRAFT or
SUBMITTED in Xero; an AUTHORISED or BILLED one is left alone and reported
(``commitment.cancelled_po_approved``): someone may have sent it to the supplier.

Calls: first run, per integrated project 3 list calls (two kinds, change orders), plus 1 show per
commitment that is sent and per approved change order on it, and 1 cost code list per project
with commitments to send, plus 1 Xero write per 50 purchase orders. Incremental run: the same 3
list calls per project (answers hold only what changed), 1 list of approved change orders per
project with a commitment to send, 1 show per changed commitment to send and per approved change
order on it (a commitment or change order the overlap window returns at the version a run settled
is left out, :mod:`trestle.models.seen`), 1 or 2 Procore lists (by id) per project whose change
orders changed on commitments that did not, 1 Procore list per (project, kind) for re-read
commitments with open issues not listed tonight — only those whose blocker may have gone
(:mod:`trestle.integrations.recheck`: the vendor or project now linked, the cost codes' links
changed; never for not approved, no lines, a zero or negative total, which wait for a change) — and,
only when some purchase order must change, one paged Xero list per status that rule needs
(BILLED for updates, also DELETED when change orders arrive, AUTHORISED and BILLED for deletes).

Part of :mod:`trestle.integrations.commitments` (a helper module: it declares no integration).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from trestle.clients.procore_commitments import CommitmentKind
from trestle.integrations import change_orders, recheck
from trestle.integrations.change_orders import ChangeOrderReader
from trestle.integrations.lookups import COST_CODE, Lookups
from trestle.integrations.recheck import links_stamp, record_only, still_unlinked, to_recheck, unchanged_stamp
from trestle.models.links import LinkRow
from trestle.models.procore import Commitment, CommitmentChangeOrder
from trestle.tasks.engine import Integration, Page, Record
from trestle.webhooks.feed import projects_to_read

PAGE_SIZE = 50  # records per page: one Xero batch write
CHANGED_STREAM = "changed"  # pages of records; cursors travel per project and kind
KINDS: tuple[CommitmentKind, ...] = ("work_order", "purchase_order")
APPROVED_STATUSES: dict[CommitmentKind, frozenset[str]] = {
    "work_order": frozenset({"Approved", "Complete"}),
    "purchase_order": frozenset({"Approved", "Partially Received", "Received", "Closed"}),
}
CANCELLED_STATUSES = frozenset({"Void", "Terminated"})


@dataclass
class CommitmentSource:
    """A commitment with what its list item does not say: its kind and project."""

    kind: CommitmentKind
    project_id: int
    commitment: Commitment
    change_orders: list[CommitmentChangeOrder] = field(default_factory=list)  # approved, with lines

    @property
    def approved(self) -> bool:
        return (self.commitment.status or "") in APPROVED_STATUSES[self.kind]

    @property
    def cancelled(self) -> bool:
        return (self.commitment.status or "") in CANCELLED_STATUSES

    @property
    def kind_label(self) -> str:
        return "work order" if self.kind == "work_order" else "purchase order"


class CommitmentFetch(Integration):
    """Reading commitments by cursor, by id and through their change orders, and the records they make."""

    lookups: Lookups
    integrated: set[int]
    linked: dict[str, LinkRow]
    located: dict[str, tuple[CommitmentKind, int]]
    change_orders: ChangeOrderReader
    listed: dict[str, tuple[CommitmentKind, int, Commitment]]
    co_changed: dict[str, list[CommitmentChangeOrder]]

    def fetch(self, since: datetime | None) -> Iterator[Page]:
        """Per integrated project and kind, commitments changed since that stream's own cursor.

        ``since`` (the pipeline's single cursor) is not used: each project and kind keeps its
        own cursor, so a newly linked project is read in full. Records of many projects share
        pages of :data:`PAGE_SIZE` (one Xero write each); each stream's cursor then travels on
        an empty page of its own, since a page carries one stream.
        """
        pending: list[Record] = []
        cursors: list[Page] = []
        scope = projects_to_read(self)  # every integrated project, or with the change feed the changed ones
        for project_id in scope.project_ids:
            changed = self._changed_change_orders(project_id, cursors)  # first: a full read also lists approved
            read: set[int] = set()
            for kind in KINDS:
                stream = f"{kind}:{project_id}"
                since_here = self.stream_since(stream)
                listed = list(self.ctx.procore.iter_commitments(kind, project_id, updated_since=since_here))
                if since_here is None:  # the whole list: progress claims label their claims from it
                    self.lookups.remember_commitments(kind, project_id, listed)
                stamps = [item.updated_at for item in listed if item.updated_at is not None]
                if stamps:
                    cursors.append(Page([], stream=stream, high_water=max(stamps)))
                for item in listed:
                    self.listed[str(item.id)] = (kind, project_id, item)
                fresh = [item for item in listed if not self.settled(item.id, item.updated_at)]
                read.update(item.id for item in fresh)
                pending.extend(self._records(kind, project_id, fresh))
            pending.extend(self._changed_by_change_orders(project_id, changed - read))
            if len(pending) >= PAGE_SIZE:
                yield Page(pending, stream=CHANGED_STREAM)
                pending = []
        for project_id in sorted((self.ctx.options.project_ids or set()) - self.integrated):
            for kind in KINDS:  # a single-project run named a project that is not in Xero: say so
                pending.extend(self._records(kind, project_id, self.ctx.procore.iter_commitments(kind, project_id)))
        if pending:
            yield Page(pending, stream=CHANGED_STREAM)
        yield from cursors
        yield from scope.pages

    def _changed_change_orders(self, project_id: int, cursors: list[Page]) -> set[int]:
        """The commitments whose change orders changed since the project's change-order cursor."""
        stream = change_orders.stream_of(project_id)
        changed = self.change_orders.changed(project_id, self.stream_since(stream))
        stamps = [co.updated_at for co in changed if co.updated_at is not None]
        if stamps:
            cursors.append(Page([], stream=stream, high_water=max(stamps)))
        contracts: set[int] = set()
        for co in changed:  # one the overlap window returns at the version its commitment settled: nothing new
            if co.contract_id is not None and not self.settled(_co_key(co.id), co.updated_at):
                contracts.add(co.contract_id)
                self.co_changed.setdefault(str(co.contract_id), []).append(co)
        return contracts

    def _changed_by_change_orders(self, project_id: int, commitment_ids: set[int]) -> list[Record]:
        """Records of commitments whose change orders changed while they themselves did not.

        A change order approved (or voided) after its commitment's order was written leaves the
        commitment's own ``updated_at`` alone, so its commitment is re-read by id: work orders
        first, purchase orders only for the ids not found among them.
        """
        records: list[Record] = []
        wanted = []
        for commitment_id in sorted(commitment_ids):
            place = self.listed.get(str(commitment_id))
            if place is not None and place[1] == project_id:  # listed tonight, left out as settled
                records.extend(self._records(place[0], project_id, [place[2]]))
            else:
                wanted.append(commitment_id)
        for kind in KINDS:
            if not wanted:
                break
            listed = list(self.ctx.procore.iter_commitments(kind, project_id, ids=wanted))
            records.extend(self._records(kind, project_id, listed))
            found = {commitment.id for commitment in listed}
            wanted = [commitment_id for commitment_id in wanted if commitment_id not in found]
        return records

    def fetch_by_ids(self, ids: Sequence[str]) -> list[Record]:
        """Re-read commitments by id, located by the project and kind their issues recorded; one
        listed tonight is taken from that list, and one whose open issues are all still blocked
        (:mod:`trestle.integrations.recheck`) is not re-read."""
        known = self._known_locations()
        groups: dict[tuple[CommitmentKind, int], list[int]] = {}
        unknown: list[int] = []
        records: list[Record] = []
        for commitment_id in self._to_recheck(ids):
            row = self.listed.get(commitment_id)
            if row is not None:
                if self._in_scope(row[1]):
                    records.extend(self._records(row[0], row[1], [row[2]]))
                continue
            place = self.located.get(commitment_id) or known.get(commitment_id)
            if place is None:
                unknown.append(int(commitment_id))
            elif self._in_scope(place[1]):
                groups.setdefault(place, []).append(int(commitment_id))
        for (kind, project_id), wanted in sorted(groups.items()):
            listed = self.ctx.procore.iter_commitments(kind, project_id, ids=wanted)
            records.extend(self._records(kind, project_id, list(listed)))
        if unknown:  # no trace of where they live: look in every integrated project
            for project_id in sorted(self.integrated):
                for kind in KINDS:
                    listed = self.ctx.procore.iter_commitments(kind, project_id, ids=unknown)
                    records.extend(self._records(kind, project_id, list(listed)))
        return records

    def _to_recheck(self, ids: Sequence[str]) -> list[str]:
        if not recheck.applies(self.ctx):
            return list(ids)
        issues = self.ctx.store.open_issues(integration=self.name, entity=self.entity)
        cost_codes = self.lookups.links(COST_CODE)
        blockers = {
            # with no project or vendor named (an answer that left it out), re-read every run: the
            # field may come back whole without the commitment's updated_at moving
            "commitment.project_not_integrated": still_unlinked(
                "project_id", lambda p: int(p) in self.integrated, unnamed_blocks=False
            ),
            "commitment.vendor_not_integrated": still_unlinked(
                "vendor_id", self.lookups.contact_for_vendor, unnamed_blocks=False
            ),
            "commitment.invalid_cost_code": unchanged_stamp(lambda: links_stamp(cost_codes)),
            # the commitment's own values: a change moves its updated_at (its lines and vendor are
            # frozen once approved; change orders re-read it through their own cursor)
            "commitment.not_approved": record_only,
            "commitment.no_lines": record_only,
            "commitment.zero_total": record_only,
            "commitment.negative_total": record_only,
        }
        manual = {link_id for link_id, link in self.linked.items() if link.origin == "manual" and not link.fingerprint}
        return to_recheck(ids, issues, blockers, always=manual)

    def versions(self, record: Record) -> dict[str, datetime]:
        """The commitment's own version and those of the change orders that re-read it tonight."""
        found = super().versions(record)
        for co in self.co_changed.get(record.id, []):
            if co.updated_at is not None:
                found[_co_key(co.id)] = co.updated_at
        return found

    def _known_locations(self) -> dict[str, tuple[CommitmentKind, int]]:
        places: dict[str, tuple[CommitmentKind, int]] = {}
        for issue in self.ctx.store.open_issues(integration=self.name, entity=self.entity):
            details = issue.details or {}
            if details.get("kind") in KINDS and details.get("project_id") is not None:
                places[issue.record_id] = (details["kind"], int(details["project_id"]))
        return places

    def _in_scope(self, project_id: int) -> bool:
        allowed = self.ctx.options.project_ids
        return allowed is None or project_id in allowed

    def _records(self, kind: CommitmentKind, project_id: int, listed: Iterable[Commitment]) -> list[Record]:
        """Records for listed commitments, with lines read (one show each) only for those to be sent."""
        records = []
        for commitment in listed:
            source = CommitmentSource(kind, project_id, commitment)
            if self._needs_lines(source):
                source.commitment = self.ctx.procore.commitment(kind, project_id, commitment.id)
                source.change_orders = self.change_orders.approved_for(project_id, commitment.id)
            self.located[str(commitment.id)] = (kind, project_id)
            records.append(
                Record(
                    str(commitment.id),
                    self._label(source),
                    source,
                    updated_at=commitment.updated_at,
                    url=self.ctx.links.procore_commitment(project_id, kind, commitment.id),
                )
            )
        return records

    def _needs_lines(self, source: CommitmentSource) -> bool:
        vendor_id = source.commitment.vendor.id if source.commitment.vendor else None
        return (
            source.approved
            and source.project_id in self.integrated
            and self.lookups.contact_for_vendor(vendor_id) is not None
        )

    def _label(self, source: CommitmentSource) -> str:
        commitment = source.commitment
        name = " ".join(part for part in (commitment.number, commitment.title) if part) or f"#{commitment.id}"
        project = self.lookups.project_option(source.project_id)
        return f"{name} ({project})" if project else f"{name} (Procore project {source.project_id})"

    def _flag(self, record: Record, code: str, message: str, **details: Any) -> None:
        source: CommitmentSource = record.data
        record.flag(code, message, project_id=source.project_id, kind=source.kind, **details)


def _co_key(change_order_id: int) -> str:
    """The key a change order's settled version is kept under (beside its commitments' ids)."""
    return f"change_order:{change_order_id}"
