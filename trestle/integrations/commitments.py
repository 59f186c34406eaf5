"""Commitments: approved Procore work order and purchase order contracts → Xero purchase orders.

Read: the commitments of *integrated* projects only (projects linked to a Xero "Project" option,
:meth:`Lookups.integrated_project_ids`, which also narrows single-project runs), both kinds,
one list call per project and kind, changed since that project-and-kind's own cursor (so a
project linked today is read in full on its first run, whatever the other projects' cursors
say). The list has no lines, so each commitment that will be sent is then shown once (one call:
its schedule of values). A commitment whose project is not integrated is reported as such when
it is re-read by id (it had an open issue or a failed write, and its project's link has since
been removed) or when a single-project run names a project that has no Xero option.

Approved and cancelled: see :mod:`trestle.integrations.commitment_fetch`.

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

Calls: see :mod:`trestle.integrations.commitment_fetch`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from trestle.clients.procore_commitments import CommitmentKind
from trestle.integrations import change_orders
from trestle.integrations.change_orders import ChangeOrderReader
from trestle.integrations.commitment_fetch import APPROVED_STATUSES, CommitmentFetch, CommitmentSource
from trestle.integrations.commitment_updates import DELETED, CommitmentUpdates
from trestle.integrations.lookups import COMMITMENT, COST_CODE, Lookups
from trestle.integrations.recheck import STAMP, links_stamp
from trestle.integrations.xero_documents import SourceLine, XeroLineMapper, reference
from trestle.models.procore import Commitment, CommitmentChangeOrder, CommitmentLineItem
from trestle.tasks.declaration import FieldMap, IssueCode
from trestle.tasks.deleted import deleted_issue
from trestle.tasks.engine import Record, WriteItem, WriteResult

__all__ = ["APPROVED_STATUSES", "CommitmentsIntegration"]


class CommitmentsIntegration(CommitmentUpdates, CommitmentFetch):
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

    # --------------------------------------------------------------- validate
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


def _nested_id(ref: Any) -> int | None:
    return getattr(ref, "id", None) if ref is not None else None


def _line_total(line: CommitmentLineItem) -> Decimal:
    """A line's amount, or quantity × unit cost when Procore sent no amount."""
    if line.amount is not None:
        return line.amount
    return (line.quantity or Decimal(0)) * (line.unit_cost or Decimal(0))
