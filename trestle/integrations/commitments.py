"""Commitments: approved Procore work order and purchase order contracts → Xero purchase orders.

Read: the commitments of *integrated* projects only (projects linked to a Xero "Project" option,
:meth:`Lookups.integrated_project_ids`, which also narrows single-project runs), both kinds,
one list call per project and kind, changed since that project-and-kind's own cursor (so a
project linked today is read in full on its first run, whatever the other projects' cursors
say). The list has no lines, so each commitment that will be sent is then shown once (one call:
its schedule of values). A commitment whose project is not integrated is reported as such when
it is re-read by id (it had an open issue or a failed write, and its project's link has since
been removed) or when a single-project run names a project that has no Xero option.

Approved means work orders ``Approved`` or ``Complete`` and purchase orders ``Approved``,
``Partially Received``, ``Received`` or ``Closed``: the order stands once approved, and
completing or receiving it keeps it. Anything else (draft, out for bid/signature, processing,
submitted) is skipped with ``commitment.not_approved``. A commitment ``Void`` or ``Terminated``
after its purchase order was written turns that purchase order DELETED while it is DRAFT or
SUBMITTED in Xero; an AUTHORISED or BILLED one is left alone and reported
(``commitment.cancelled_po_approved``): someone may have sent it to the supplier.

Skipped with a review issue, checked in this order: project not integrated; not approved;
vendor not linked to a Xero contact (``commitment.vendor_not_integrated``); no lines
(``commitment.no_lines``); any line whose cost code is missing, outside the standard list or
without a Xero "Cost Code" option (``commitment.invalid_cost_code``, naming every such line);
lines totalling less than zero (``commitment.negative_total``: Xero has no negative purchase
order) or exactly zero (``commitment.zero_total``: an order of nothing).

The purchase order: Contact = the vendor's linked contact; Date = the contract date (Xero's
today when Procore has none); Reference = "<number> - <title>"; DeliveryDate = the purchase
order's delivery date or the work order's estimated completion date, when set;
LineAmountTypes from ``sync.tax_mode``; one line per schedule-of-values line with AccountCode
``sync.purchase_order_account_code``, TaxType from the line's Procore tax code (``sync.tax_map``,
else ``sync.default_tax_type``), Quantity × UnitAmount as Procore has them when they multiply
to the line amount (else 1 × amount), and tracking by name: the project option and the cost
code option (see :mod:`trestle.integrations.xero_documents`). New purchase orders are created
with status ``sync.bill_status`` (DRAFT by default, for the bookkeeper to approve); updates
never send a status, so an approval made in Xero stands. Xero replaces LineItems as a whole,
so any change to the commitment's lines resends them all. A BILLED purchase order is never
changed (``commitment.po_billed``). Written in batches of 50 with an Idempotency-Key.

Change orders (:mod:`trestle.integrations.change_orders`): each ``approved`` commitment change
order adds its lines after the commitment's own, tracked to the project and the line's cost code,
described "<CO number> - <CO title> - <line description>" — lines, not a changed total, because
that is what Procore's own connector does (it appends change orders to the order) and because only
lines keep job costs right by cost code in Xero. Their lines count toward the total checks above
and their cost codes toward ``commitment.invalid_cost_code``. Change orders are read per project
with their own cursor (stream ``change_orders:<project id>``); one approved (or voided) after its
commitment's order was written re-reads that commitment, whose payload — and so fingerprint —
now differs: one update, and a rerun with nothing new writes nothing. An order BILLED or DELETED
in Xero never takes a change order's lines (``commitment.change_order_on_billed_order``, naming
the change orders) — someone billed against the old value.

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
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from trestle.clients.procore_commitments import CommitmentKind
from trestle.integrations import change_orders, recheck
from trestle.integrations.change_orders import ChangeOrderReader
from trestle.integrations.lookups import COMMITMENT, COST_CODE, Lookups
from trestle.integrations.recheck import STAMP, links_stamp, record_only, still_unlinked, to_recheck, unchanged_stamp
from trestle.integrations.xero_documents import SourceLine, XeroLineMapper, reference
from trestle.models.procore import Commitment, CommitmentChangeOrder, CommitmentLineItem
from trestle.tasks.declaration import FieldMap, IssueCode
from trestle.tasks.deleted import deleted_issue
from trestle.tasks.engine import Integration, Page, Record, WriteItem, WriteResult
from trestle.webhooks.feed import projects_to_read

KINDS: tuple[CommitmentKind, ...] = ("work_order", "purchase_order")
PAGE_SIZE = 50  # records per page: one Xero batch write
CHANGED_STREAM = "changed"  # pages of records; cursors travel per project and kind
APPROVED_STATUSES: dict[CommitmentKind, frozenset[str]] = {
    "work_order": frozenset({"Approved", "Complete"}),
    "purchase_order": frozenset({"Approved", "Partially Received", "Received", "Closed"}),
}
CANCELLED_STATUSES = frozenset({"Void", "Terminated"})
DELETED = "DELETED"
UNCHANGEABLE_PO_STATUSES = ("AUTHORISED", "BILLED")  # a cancelled commitment does not delete these
CLOSED_PO_STATUSES = ("BILLED", "DELETED")  # a change order does not reach these


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


class CommitmentsIntegration(Integration):
    name = "commitments"
    title = "Commitments"
    entity = COMMITMENT
    source_system = "procore"
    target_system = "xero"
    write_batch_size = 50
    summary = "Approved Procore work orders and purchase orders → Xero purchase orders."
    depends_on = ("vendors", "projects", "cost_codes")
    per_project = True
    feed_resources = ("Work Order Contracts", "Purchase Order Contracts", "Change Order Packages")  # change feed
    picked_up = (
        "Work order and purchase order contracts of linked projects, each project and kind with its own cursor "
        "(a project linked today is read in full). Approved means work orders `Approved` or `Complete`, purchase "
        "orders `Approved`, `Partially Received`, `Received` or `Closed`. Their change orders "
        "(`/projects/{id}/commitment_change_orders`, each project with its own cursor): only `approved` ones are sent, "
        "and one approved after its order was written re-sends that order once."
    )
    notes = (
        (
            "Written",
            "Quantity × UnitAmount as Procore has them when they multiply to the amount (else 1 × amount). New "
            "orders get `TRESTLE_SYNC_BILL_STATUS`; updates never change the status, so an approval made in Xero "
            "stands. A commitment voided or terminated after its order was written turns a DRAFT/SUBMITTED order "
            "DELETED. Written 50 per call with an `Idempotency-Key`.",
        ),
        (
            "Change orders",
            "An approved change order adds its lines to its commitment's order (not a changed total): each is "
            "tracked to the project and its cost code, so job costs by cost code stay right, as Procore's own "
            "connector does. Draft, pending and other statuses are left alone. An order BILLED or DELETED in Xero "
            "is never changed by a change order: `commitment.change_order_on_billed_order`.",
        ),
    )
    mapping = (
        FieldMap("Contact", "the vendor's linked Xero contact"),
        FieldMap("Date", "contract date"),
        FieldMap("Reference", '`"<number> - <title>"`'),
        FieldMap("DeliveryDate", "delivery date (purchase orders) or estimated completion (work orders)"),
        FieldMap("LineAmountTypes", "`TRESTLE_SYNC_TAX_MODE`"),
        FieldMap("LineItems", "one per schedule-of-values line, then one per line of each approved change order"),
        FieldMap(
            "LineItems[].Description",
            'the line\'s description; change order lines `"<CO number> - <CO title> - <line description>"`',
        ),
        FieldMap("LineItems[].AccountCode", "`TRESTLE_SYNC_PURCHASE_ORDER_ACCOUNT_CODE`"),
        FieldMap("LineItems[].TaxType", "the line's tax code (`TRESTLE_SYNC_TAX_MAP`, else the default)"),
        FieldMap("LineItems[].Tracking", "the project's option + the line's cost code option (by name)"),
    )
    settings_used = (
        "purchase_order_account_code",
        "tax_mode",
        "tax_map",
        "default_tax_type",
        "bill_status",
        "overlap_minutes",
    )
    issues = (
        deleted_issue(
            COMMITMENT,
            "commitments",
            "xero",
            "the commitment's purchase order",
            "If the commitment still stands, re-enter its purchase order in Xero by hand, or void the commitment "
            "in Procore.",
        ),
        IssueCode(
            "commitment.project_not_integrated",
            "its project is not linked to a Xero option",
            "Move the project to the Procore stage that sends projects to Xero (TRESTLE_SYNC_PROJECT_STAGE) so it "
            "gets its Xero 'Project' option; the next run sends its commitments.",
        ),
        IssueCode(
            "commitment.not_approved",
            "not approved yet",
            "Nothing to fix if the commitment is still being prepared: it is sent to Xero on the first run after "
            "it is approved in Procore. Voided and terminated commitments are never sent.",
        ),
        IssueCode(
            "commitment.vendor_not_integrated",
            "the vendor is not linked to a Xero contact",
            "Add the supplier's Xero contact to the contact group Trestle reads (TRESTLE_SYNC_CONTACT_GROUP) so "
            "the vendors integration links it to this Procore vendor; the next run sends the purchase order.",
        ),
        IssueCode(
            "commitment.no_lines",
            "no schedule of values",
            "Add the schedule of values to the commitment in Procore (at least one line with a cost code and an "
            "amount).",
        ),
        IssueCode(
            "commitment.invalid_cost_code",
            "a line's cost code is missing, not on the standard list, or has no Xero option (each line named)",
            "Use cost codes from the company's standard cost code list on every line (the message names the "
            "lines), and let the cost codes integration create their Xero 'Cost Code' options.",
        ),
        IssueCode(
            "commitment.cancelled_po_approved",
            "voided in Procore but its order is AUTHORISED/BILLED in Xero",
            "The commitment was voided or terminated in Procore but its purchase order is already approved or "
            "billed in Xero: cancel or delete it in Xero yourself.",
        ),
        IssueCode(
            "commitment.po_billed",
            "the order is BILLED in Xero, so changes are not sent",
            "The purchase order is billed in Xero, so Trestle leaves it as it is. Mark it unbilled in Xero if the "
            "change should reach it; the next run sends it.",
        ),
        IssueCode(
            "commitment.change_order_on_billed_order",
            "an approved change order cannot reach its order: it is BILLED or DELETED in Xero",
            "The change order was approved in Procore after its purchase order was billed (or deleted) in Xero, so "
            "Trestle did not change the order. Add the variation in Xero yourself (a new purchase order, or mark the "
            "order unbilled so the next run adds the change order's lines).",
        ),
        IssueCode(
            "commitment.write_rejected",
            "Xero refused the order (message shown)",
            "Correct the commitment in Procore, or the account code and tax settings, as Xero's message says; the "
            "next run retries.",
        ),
        IssueCode(
            "commitment.negative_total",
            "its lines total less than zero, and Xero has no negative purchase order",
            "A Xero purchase order cannot total less than zero: correct the schedule of values in Procore (a credit "
            "belongs on a change order against a positive commitment).",
        ),
        IssueCode(
            "commitment.zero_total",
            "its lines add up to 0.00",
            "The commitment's lines add up to 0.00: enter their amounts in Procore; the next run sends the purchase "
            "order.",
        ),
    )

    # ---------------------------------------------------------------- prepare
    def prepare(self) -> None:
        sync = self.ctx.settings.sync
        self.lookups = Lookups.of(self.ctx)
        self.lines = XeroLineMapper(self.ctx, account_code=sync.purchase_order_account_code)
        self.integrated = set(self.lookups.integrated_project_ids())
        self.linked = {link.procore_id: link for link in self.ctx.store.links(self.entity)}
        self.located: dict[str, tuple[CommitmentKind, int]] = {}  # commitment id -> (kind, project)
        self._po_statuses: dict[str, set[str]] = {}  # Xero status -> purchase order ids, read when needed
        self.change_orders = ChangeOrderReader(self.ctx.procore)
        self.listed: dict[str, tuple[CommitmentKind, int, Commitment]] = {}  # id -> tonight's list row
        self.co_changed: dict[str, list[CommitmentChangeOrder]] = {}  # commitment id -> its changed change orders

    # ------------------------------------------------------------------ fetch
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

    # --------------------------------------------------------------- validate
    def _flag(self, record: Record, code: str, message: str, **details: Any) -> None:
        source: CommitmentSource = record.data
        record.flag(code, message, project_id=source.project_id, kind=source.kind, **details)

    def validate(self, record: Record) -> None:
        source: CommitmentSource = record.data
        commitment = source.commitment
        status = commitment.status or "(no status)"
        if source.project_id not in self.integrated or self.lookups.project_option(source.project_id) is None:
            self._flag(
                record,
                "commitment.project_not_integrated",
                f"The {source.kind_label}'s Procore project is not linked to a Xero 'Project' option, so no "
                "purchase order was sent.",
            )
            return
        if source.cancelled and record.id in self.linked:
            return  # its purchase order is to be deleted (see map)
        if not source.approved:
            linked = record.id in self.linked
            self._flag(
                record,
                "commitment.not_approved",
                f"The {source.kind_label} is {status} in Procore; "
                + (
                    "its Xero purchase order is left as it is until it is approved again."
                    if linked
                    else "only approved commitments are sent to Xero."
                ),
                status=commitment.status,
            )
            return
        vendor = commitment.vendor
        if vendor is None or vendor.id is None:
            self._flag(record, "commitment.vendor_not_integrated", f"The {source.kind_label} has no vendor.")
            return
        if self.lookups.contact_for_vendor(vendor.id) is None:
            self._flag(
                record,
                "commitment.vendor_not_integrated",
                f"The vendor '{vendor.company or vendor.name or vendor.id}' is not linked to a Xero contact.",
                vendor_id=vendor.id,
            )
            return
        if not commitment.line_items:
            self._flag(record, "commitment.no_lines", f"The {source.kind_label} has no schedule of values lines.")
            return
        total = sum((_line_total(line) for line in commitment.line_items), Decimal(0))
        total += change_orders.total(source.change_orders)
        if total < 0:  # Xero has no negative purchase order
            self._flag(
                record,
                "commitment.negative_total",
                f"The {source.kind_label}'s lines add up to {total:.2f}; a Xero purchase order cannot total less "
                "than zero, so it was not sent.",
                total=str(total),
            )
        elif total == 0:  # an order of nothing orders nothing
            self._flag(
                record,
                "commitment.zero_total",
                f"The {source.kind_label}'s lines add up to {total:.2f}, so there is nothing to order; it was not "
                "sent.",
                total=str(total),
            )

    # -------------------------------------------------------------------- map
    def map(self, record: Record) -> dict[str, Any]:
        source: CommitmentSource = record.data
        if source.cancelled:
            return {"Status": DELETED}
        commitment = source.commitment
        lines = sorted(commitment.line_items or [], key=lambda line: (line.position or 0, line.id or 0))
        mapped, problems = self.lines.map_lines(
            source.project_id,
            [
                SourceLine(
                    description=line.description,
                    amount=line.amount,
                    cost_code_id=line.cost_code_id if line.cost_code_id is not None else _nested_id(line.cost_code),
                    quantity=line.quantity,
                    unit_cost=line.unit_cost,
                    tax_code_id=line.tax_code_id,
                )
                for line in lines
            ]
            + change_orders.source_lines(source.change_orders),
        )
        if problems:
            self._flag(
                record,
                "commitment.invalid_cost_code",
                f"{len(problems)} of {len(lines) + len(change_orders.source_lines(source.change_orders))} line(s) "
                "cannot be coded in Xero: " + "; ".join(problem.sentence() for problem in problems),
                lines=[problem.line for problem in problems],
                cost_codes=[problem.cost_code for problem in problems],
                **{STAMP: links_stamp(self.lookups.links(COST_CODE))},
            )
            return {}
        vendor_id = commitment.vendor.id if commitment.vendor else None
        payload: dict[str, Any] = {
            "Contact": {"ContactID": self.lookups.contact_for_vendor(vendor_id)},
            "Reference": reference(commitment.number, commitment.title),
            "LineAmountTypes": self.lookups.line_amount_types(),
            "LineItems": mapped,
        }
        if commitment.contract_date is not None:
            payload["Date"] = commitment.contract_date
        delivery = commitment.delivery_date or commitment.contract_estimated_completion_date
        if delivery is not None:
            payload["DeliveryDate"] = delivery
        return payload

    def check_update(self, record: Record) -> None:
        source: CommitmentSource = record.data
        target = record.target_id or ""
        payload = record.payload or {}
        if payload.get("Status") == DELETED:
            status = self._po_status(target, UNCHANGEABLE_PO_STATUSES)
            if status is not None:
                self._flag(
                    record,
                    "commitment.cancelled_po_approved",
                    f"The {source.kind_label} is {source.commitment.status} in Procore, but its Xero purchase order "
                    f"is {status}, so Trestle did not delete it.",
                    po_status=status,
                )
            return
        arriving = change_orders.arriving(source.change_orders, record.link.last_payload if record.link else None)
        status = self._po_status(target, CLOSED_PO_STATUSES if arriving else ("BILLED",))
        if arriving and status is not None:
            self._flag(
                record,
                "commitment.change_order_on_billed_order",
                f"Change order(s) {change_orders.label(arriving)} were approved in Procore, but the "
                f"{source.kind_label}'s Xero purchase order is {status}, so they were not added to it.",
                po_status=status,
                change_orders=[co.id for co in arriving],
            )
        elif status == "BILLED":
            self._flag(
                record,
                "commitment.po_billed",
                "The commitment changed in Procore, but its Xero purchase order is BILLED, so it was not updated.",
                changes=[change.field for change in record.changes],
            )

    def _po_status(self, purchase_order_id: str, statuses: Sequence[str]) -> str | None:
        """Which of ``statuses`` the purchase order has in Xero, if any (each status's list read once per run)."""
        for status in statuses:
            if status not in self._po_statuses:
                self._po_statuses[status] = {
                    order.purchase_order_id
                    for order in self.ctx.xero.iter_purchase_orders(status=status)
                    if order.purchase_order_id
                }
            if purchase_order_id in self._po_statuses[status]:
                return status
        return None

    # ---------------------------------------------------------- deleted records
    def target_gone(self, record: Record) -> str | None:
        """DELETED when the linked purchase order was deleted in Xero by someone else, checked only when
        the commitment changed (one list call per run, made the first time one is)."""
        if record.link is None or record.link.fingerprint == record.fingerprint:
            return None  # nothing to send: whatever happened to the order in Xero stands
        if (record.link.last_payload or {}).get("Status") == DELETED:
            return None  # Trestle deleted it (a cancelled commitment)
        return self._po_status(record.target_id or "", (DELETED,))

    # ------------------------------------------------------------------ write
    def write(self, items: list[WriteItem], batch_key: str) -> list[WriteResult]:
        """Create or update the batch's purchase orders in one request (Idempotency-Key = batch key)."""
        bodies = []
        for item in items:
            body = dict(item.payload)
            if item.operation == "update" and item.target_id:
                body["PurchaseOrderID"] = item.target_id
            else:
                body["Status"] = self.ctx.settings.sync.bill_status
            bodies.append(body)
        results = self.ctx.xero.save_purchase_orders(bodies, idempotency_key=batch_key)
        outcomes = []
        for item, result in zip(items, results, strict=True):
            kind, project_id = self.located.get(item.source_id, (None, None))
            details = {"kind": kind, "project_id": project_id} if kind else {}
            order_id = result.record.purchase_order_id if result.record else None
            if result.ok and order_id:
                outcomes.append(WriteResult(item.source_id, ok=True, target_id=order_id))
            else:
                error = "; ".join(result.errors) or "Xero returned no purchase order"
                outcomes.append(
                    WriteResult(
                        item.source_id, ok=False, error=error, outcome_unknown=result.outcome_unknown, details=details
                    )
                )
        return outcomes

    # ------------------------------------------------------------------ links
    def source_url(self, record: Record) -> str | None:
        source = record.data
        if isinstance(source, CommitmentSource):
            return self.ctx.links.procore_commitment(source.project_id, source.kind, record.id)
        return record.url

    def target_url(self, target_id: str) -> str | None:
        return self.ctx.links.xero_purchase_order(target_id)


def _co_key(change_order_id: int) -> str:
    """The key a change order's settled version is kept under (beside its commitments' ids)."""
    return f"change_order:{change_order_id}"


def _nested_id(ref: Any) -> int | None:
    return getattr(ref, "id", None) if ref is not None else None


def _line_total(line: CommitmentLineItem) -> Decimal:
    """A line's amount, or quantity × unit cost when Procore sent no amount."""
    if line.amount is not None:
        return line.amount
    return (line.quantity or Decimal(0)) * (line.unit_cost or Decimal(0))
