"""Direct invoices: Xero bills coded to projects → Procore direct costs (type invoice), one per project.

Picked up: bills (``ACCPAY``) in status AUTHORISED or PAID with a "Project" tracking option on
at least one line. DRAFT (and SUBMITTED) bills are not costs yet and are passed over silently;
approving one in Xero changes it, so the next run picks it up. Bills Trestle wrote itself are
never sent back: a bill that is the Xero side of a ``progress_claim`` link came from Procore
(and credit notes are a different Xero resource, never read here), so nothing is counted twice.

Split by project: a bill becomes one direct cost per project its lines are coded to (a *part*),
each with that project's lines only. ``origin_id`` is unique per company, so a part can never land
twice: InvoiceID for a bill in one project (the payload and link of such a bill are exactly what
they were before bills were split, so an upgrade rewrites nothing), ``<InvoiceID>@<project id>``
for each part of a split bill (its payload lists the ``parts``). Lines without a Project option are overhead and left
out of every part, as they were before bills were split: Xero puts overhead in no project, and
charging it to one would misstate that project's job cost (a bill of overhead only is no cost).
Each line lands in exactly one part, so the parts add up to the bill's project lines net of tax
to the cent (the bill's SubTotal when every line is coded); tax is taken off line by line.

Lines (per project cost code, net of tax): see :mod:`trestle.integrations.direct_invoice_lines`.
Vendor = the bill's contact through the vendor link (not linked → issue).
invoice_number = InvoiceNumber (required by Procore → issue when blank), direct_cost_date = Date,
payment_date = FullyPaidOnDate (PAID bills), description = Reference, status ``approved`` (an
AUTHORISED bill is approved for payment in the accounts).

Writing (:mod:`.direct_cost_batch`, :mod:`.direct_cost_writer`): header, lines, lock, on documented
operations only, with every step found again before it is redone after a kill or a lost answer. A changed bill updates
its parts in place (unlock, lines, lock); a project that drops out of the bill has its part
removed; a synced bill that is later VOIDED, DELETED or no longer coded to a project has every
part removed (:meth:`DirectInvoicesIntegration.remove_parts`): it is no longer a cost.

The link: one per bill, ``procore_id`` = ``"<project id>:<direct cost id>"`` per part,
comma-joined. API calls: a night's new bills take three syncs per project (headers, lines, locks,
:mod:`.direct_cost_batch`) and one read of the company's cost types; a changed part takes an unlock
sync, a line read, a call per changed line and a lock sync; incremental runs write only changed bills.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from trestle.clients.errors import OutcomeUnknownError, RetriableApiError, TransportError
from trestle.integrations import recheck
from trestle.integrations.claim_bills import ClaimBills
from trestle.integrations.direct_cost_batch import BatchDirectCostWriter, batchable
from trestle.integrations.direct_cost_writer import DirectCostWriter, format_target, parse_target, part_key, parts_of
from trestle.integrations.direct_invoice_lines import BillLines
from trestle.integrations.direct_invoice_lines import net_line_amount as net_line_amount  # re-exported
from trestle.integrations.lookups import COST_CODE, DIRECT_COST, PROGRESS_CLAIM, Lookups
from trestle.integrations.recheck import links_stamp, record_only, still_unlinked, to_recheck, unchanged_stamp
from trestle.models.intents import PendingIntent
from trestle.models.unreadable import unreadable_keys
from trestle.models.xero import Invoice
from trestle.tasks.declaration import FieldMap, IssueCode
from trestle.tasks.deleted import deleted_issue, policy_of
from trestle.tasks.engine import Page, Record, WriteItem, WriteResult

PAGE_SIZE = 1000
LIVE_STATUSES = ("AUTHORISED", "PAID")
GONE_STATUSES = ("VOIDED", "DELETED")


def direct_cost_target(project_id: int | str, direct_cost_id: int | str) -> str:
    """The link's Procore id for a one-project bill: ``"<project id>:<direct cost id>"``."""
    return format_target({int(project_id): int(direct_cost_id)})


def split_target(target_id: str) -> tuple[int, int]:
    """``(project id, direct cost id)`` of a one-project bill's link (the first part of a split one)."""
    parts = parse_target(target_id)
    project_id = min(parts)
    return project_id, parts[project_id]


def split_targets(target_id: str) -> dict[int, int]:
    """``{project id: direct cost id}``: every part a link points at."""
    return parse_target(target_id)


class DirectInvoicesIntegration(BillLines):
    name = "direct_invoices"
    title = "Direct invoices"
    entity = DIRECT_COST
    source_system = "xero"
    target_system = "procore"
    write_batch_size = 100
    summary = "Approved Xero bills coded to projects → Procore direct costs (one per project)."
    # After progress claims: a bill is known to have come from Procore by its progress-claim link, and
    # that integration finishes its own pending bill writes (recovery) before this one reads bills.
    depends_on = ("vendors", "projects", "cost_codes", "progress_claims")
    per_project = True
    on_deleted = ("propagate", "report")  # removing the direct cost stays the default
    picked_up = (
        'AUTHORISED or PAID bills with a "Project" tracking option on at least one line that did not come from '
        "Procore (never a bill Trestle wrote for a claim, so nothing is counted twice). DRAFT bills wait until "
        "approved."
    )
    notes = (
        (
            "Written",
            "One direct cost (type invoice, status approved) per project the bill's lines are coded to, each "
            "with that project's lines; the parts add up to the bill's project lines net of tax, to the cent. "
            "Lines without a project option are overhead and left out (no project's job cost). A changed bill "
            "updates its parts; a project that drops out of the bill has its part removed; a voided or deleted "
            "bill has every part removed.",
        ),
        (
            "Linked",
            "One link per bill: the Procore side lists each part as `<project id>:<direct cost id>`, "
            "comma-separated (a one-project bill's link is a single pair, as before bills were split).",
        ),
    )
    mapping = (
        FieldMap("origin_id", "InvoiceID; a bill split over several projects: `<InvoiceID>@<project id>` per part"),
        FieldMap("vendor_id", "the contact's linked Procore vendor"),
        FieldMap("invoice_number", "InvoiceNumber"),
        FieldMap("direct_cost_date", "Date"),
        FieldMap("payment_date", "FullyPaidOnDate (PAID bills)"),
        FieldMap("direct_cost_type, status", "`invoice`, `approved`"),
        FieldMap("description", "Reference"),
        FieldMap(
            "line_items",
            'the lines coded to that project, one per project cost code (the line\'s "Cost Code" option → '
            "standard code → the project's code; lines of the same code summed) at the amount excluding tax, "
            "rounded half-up to the cent",
        ),
    )
    settings_used = ("project_category", "cost_code_category", "direct_cost_cost_type", "overlap_minutes")
    issues = (
        deleted_issue(
            DIRECT_COST,
            "direct_invoices",
            "xero",
            "the bill",
            "Delete the direct cost in Procore by hand if the bill no longer stands.",
        ),
        IssueCode(
            "direct_cost.project_not_linked",
            'the bill\'s "Project" option is not linked to a Procore project',
            "Set the project's stage to the one Trestle syncs in Procore (or fix the option's name in Xero to "
            "match the project's); the next run links it and sends the bill.",
        ),
        IssueCode(
            "direct_cost.vendor_not_linked",
            "the supplier is not linked to a Procore vendor",
            "Add the supplier to the Xero contact group Trestle syncs (Contacts → Groups) so it becomes a Procore "
            "vendor; the next run sends the bill.",
        ),
        IssueCode(
            "direct_cost.no_invoice_number",
            "the bill has no invoice number (Procore requires one)",
            "Enter the supplier's invoice number on the bill in Xero.",
        ),
        IssueCode(
            "direct_cost.no_cost_code",
            'a project line has no "Cost Code" option',
            "Pick a Cost Code tracking option on every project line of the bill in Xero.",
        ),
        IssueCode(
            "direct_cost.cost_code_not_linked",
            "the line's cost code option did not come from Procore's standard list",
            "Use a Cost Code option that Trestle created from Procore's standard cost codes (or add the code to "
            "the standard list in Procore).",
        ),
        IssueCode(
            "direct_cost.cost_code_not_in_project",
            "the project does not use that cost code",
            "Add the cost code to the project's budget in Procore (Admin → Work Breakdown Structure), or code the "
            "line to a cost code the project uses.",
        ),
        IssueCode(
            "direct_cost.write_rejected",
            "Procore refused the direct cost (message shown)",
            "Correct the bill in Xero as Procore's message says; the next run retries.",
        ),
    )

    def prepare(self) -> None:
        self.lookups = Lookups.of(self.ctx)
        self.lookups.refresh(PROGRESS_CLAIM)
        sync = self.ctx.settings.sync
        self.project_category = sync.project_category.casefold()
        self.cost_code_category = sync.cost_code_category.casefold()
        self.linked = {link.xero_id for link in self.ctx.store.links(self.entity)}
        self.writer = DirectCostWriter(self.ctx.procore)
        self.batch_writer: BatchDirectCostWriter | None = None
        self.cost_type_read = False  # the cost type is read once a run, and only when a new bill is written
        self.claim_bills = ClaimBills.from_store(self.ctx.store)  # progress claims not linked yet (a killed run)

    # ------------------------------------------------------------------ fetch
    def fetch(self, since: datetime | None) -> Iterator[Page]:
        batch: list[Record] = []
        high_water: datetime | None = None
        for invoice in self._read(modified_since=since):
            if invoice.updated_date_utc and (high_water is None or invoice.updated_date_utc > high_water):
                high_water = invoice.updated_date_utc
            if self.settled(invoice.invoice_id or "", invoice.updated_date_utc):
                continue  # returned again by the overlap window at the version a run settled
            if (record := self._record(invoice)) is not None:
                batch.append(record)
            if len(batch) >= PAGE_SIZE:
                yield Page(batch, high_water=high_water)
                batch = []
        if batch or high_water is not None:
            yield Page(batch, high_water=high_water)

    def fetch_by_ids(self, ids: Sequence[str]) -> list[Record]:
        """Bills by id, leaving out those whose open issues are all still blocked
        (:mod:`trestle.integrations.recheck`)."""
        wanted = self._to_recheck(ids)
        if not wanted:
            return []
        return [record for invoice in self._read(ids=wanted) if (record := self._record(invoice)) is not None]

    def _to_recheck(self, ids: Sequence[str]) -> list[str]:
        if not recheck.applies(self.ctx):
            return list(ids)
        issues = self.ctx.store.open_issues(integration=self.name, entity=self.entity)
        cost_codes = self.lookups.links(COST_CODE)
        blockers = {
            "direct_cost.project_not_linked": still_unlinked(
                "option", lambda name: self.lookups.project_for_option(name=name), unnamed_blocks=False
            ),
            "direct_cost.vendor_not_linked": still_unlinked(
                "contact_id", self.lookups.vendor_for_contact, unnamed_blocks=False
            ),
            "direct_cost.cost_code_not_linked": unchanged_stamp(lambda: links_stamp(cost_codes)),
            # the bill's own values: editing it in Xero moves its UpdatedDateUTC
            "direct_cost.no_invoice_number": record_only,
            "direct_cost.no_cost_code": record_only,
        }
        return to_recheck(ids, issues, blockers)

    def _read(self, **query: Any) -> Iterator[Invoice]:
        statuses = [*LIVE_STATUSES, *GONE_STATUSES]
        for invoice in self.ctx.xero.iter_invoices(statuses=statuses, where='Type=="ACCPAY"', **query):
            if invoice.type == "ACCPAY" and invoice.invoice_id:
                yield invoice

    def _record(self, invoice: Invoice) -> Record | None:
        """The bill as a record, or None when it is not this integration's business."""
        invoice_id = invoice.invoice_id or ""
        if self.lookups.procore_record_for(PROGRESS_CLAIM, invoice_id) is not None or self.claim_bills.covers(invoice):
            return None  # written by Trestle from a Procore subcontractor invoice
        projects = self._project_options(invoice)
        hidden = unreadable_keys(invoice) & {"Status", "LineItems"}  # what says whether it is ours: named, not skipped
        if invoice_id not in self.linked and not hidden and (invoice.status not in LIVE_STATUSES or not projects):
            return None
        allowed = self.ctx.options.project_ids
        if allowed is not None:
            mapped = {self.lookups.project_for_option(option_id, name=name) for option_id, name in projects}
            if not mapped & allowed:
                return None
        contact = invoice.contact.name if invoice.contact and invoice.contact.name else "(no contact)"
        label = f"{invoice.invoice_number or '(no number)'} – {contact}"
        return Record(
            invoice_id, label, invoice, updated_at=invoice.updated_date_utc, url=self.source_url_for(invoice_id)
        )

    def _deletion_reported(self, record: Record, invoice: Invoice) -> bool:
        """With ``on_deleted = "report"`` a voided or deleted bill's direct cost is
        left in Procore and reported (a bill only uncoded from its project is still removed)."""
        if policy_of(type(self), self.ctx.settings.sync) != "report" or record.link is None:
            return False
        if invoice.status not in GONE_STATUSES or (record.link.last_payload or {}).get("removed"):
            return False
        record.flag(
            "direct_cost.deleted_in_xero",
            f"The bill is {invoice.status} in Xero; its Procore direct cost was left as it is.",
            status=invoice.status,
        )
        return True

    def _is_gone(self, invoice: Invoice) -> bool:
        return invoice.status not in LIVE_STATUSES or not self._project_options(invoice)

    # --------------------------------------------------------------- validate
    def validate(self, record: Record) -> None:
        invoice: Invoice = record.data
        if self._is_gone(invoice):
            return  # a linked bill that was voided or uncoded: map() plans the removal of its parts
        for option_id, option_name in self._project_options(invoice):
            if self.lookups.project_for_option(option_id, name=option_name) is None:
                record.flag(
                    "direct_cost.project_not_linked",
                    f"The Xero project option '{option_name}' is not linked to a Procore project.",
                    option=option_name,
                )
        contact = invoice.contact
        if self.lookups.vendor_for_contact(contact.contact_id if contact else None) is None:
            record.flag(
                "direct_cost.vendor_not_linked",
                f"The supplier '{contact.name if contact else ''}' is not linked to a Procore vendor.",
                contact=contact.name if contact else None,
                contact_id=contact.contact_id if contact else None,
            )
        if not (invoice.invoice_number or "").strip():
            record.flag("direct_cost.no_invoice_number", "The bill has no invoice number, which Procore requires.")

    # -------------------------------------------------------------------- map
    def map(self, record: Record) -> dict[str, Any]:
        invoice: Invoice = record.data
        if self._is_gone(invoice):
            if self._deletion_reported(record, invoice):
                return {}
            return {"origin_id": record.id, "removed": True}
        contact_id = invoice.contact.contact_id if invoice.contact else None
        header = {
            "direct_cost_type": "invoice",
            "status": "approved",
            "vendor_id": self.lookups.vendor_for_contact(contact_id),
            "invoice_number": (invoice.invoice_number or "").strip(),
            "direct_cost_date": invoice.date,
            "payment_date": invoice.fully_paid_on_date if invoice.status == "PAID" else None,
            "description": invoice.reference or None,
        }
        by_project = self._lines_by_project(record, invoice)
        if len(by_project) == 1:  # the one-project shape links written before bills were split still match
            ((project_id, lines),) = by_project.items()
            return {"project_id": project_id, "origin_id": record.id, **header, "line_items": lines}
        parts = [
            {"project_id": project_id, "origin_id": part_key(record.id, project_id), **header, "line_items": lines}
            for project_id, lines in sorted(by_project.items())
        ]
        return {"origin_id": record.id, "parts": parts}

    # ------------------------------------------------------------------ write
    def write_group(self, record: Record) -> str:
        """Direct costs live under their project's path: a batch holds one project's bills (by the
        bill's first project), so its three syncs serve the whole batch."""
        parts = parts_of(record.payload or {})
        return str(min(int(part["project_id"]) for part in parts)) if parts else ""

    def write(self, items: list[WriteItem], batch_key: str) -> list[WriteResult]:
        """New bills in one sync per project and step (:mod:`.direct_cost_batch`); changes bill by bill."""
        new = [item for item in items if batchable(item)]
        batch = self._batch_writer() if new else None
        results = {result.source_id: result for result in batch.write_new_bills(new)} if batch else {}
        return [
            results.get(item.source_id)
            or self._unless_lost(item, partial(self.writer.write_bill, item, recovering=False))
            for item in items
        ]

    def _batch_writer(self) -> BatchDirectCostWriter | None:
        """The batch writer with the configured cost type, looked up once a run (None: Procore lacks it)."""
        if not self.cost_type_read:
            self.cost_type_read = True
            code = self.ctx.settings.sync.direct_cost_cost_type
            self.batch_writer = BatchDirectCostWriter.with_cost_type(self.ctx.procore, self.writer, code)
        return self.batch_writer

    def recover(self, intents: list[PendingIntent]) -> list[WriteResult]:
        """Finish writes a kill or lost answer left pending: every part is looked up before anything is resent.

        A part found locked under its ``origin_id``, or half-written under its ``origin_data`` mark,
        is finished in place; only a part found nowhere is created (see :mod:`.direct_cost_writer`).
        """
        results = []
        for intent in intents:
            item = WriteItem(
                intent.source_id,
                "update" if intent.operation == "update" else "create",
                intent.target_id,
                intent.payload,
                intent.idempotency_key,
                intent.label,
            )
            results.append(self._unless_lost(item, partial(self.writer.write_bill, item, recovering=True)))
        return results

    def remove_parts(self, target_id: str) -> None:
        """Unlock and delete every direct cost a link points at (a voided bill's parts; for a deleted-record policy).

        Lost answers propagate to the caller; each step is safe to repeat.
        """
        for project_id, direct_cost_id in parse_target(target_id).items():
            self.writer.remove(project_id, direct_cost_id)

    @staticmethod
    def _unless_lost(item: WriteItem, step: Callable[[], WriteResult]) -> WriteResult:
        """Run one bill's write; an answer still lost after the client's retries leaves it for :meth:`recover`."""
        try:
            return step()
        except (OutcomeUnknownError, RetriableApiError, TransportError):
            return WriteResult(item.source_id, ok=False, outcome_unknown=True)

    def source_url(self, record: Record) -> str | None:
        return self.source_url_for(record.id)

    def source_url_for(self, invoice_id: str) -> str:
        return self.ctx.links.xero_bill(invoice_id)

    def target_url(self, target_id: str) -> str | None:
        """The first part's page in Procore (the run report links one page per record)."""
        parts = parse_target(target_id)
        if not parts:
            return None
        project_id = min(parts)
        return self.ctx.links.procore_direct_cost(project_id, parts[project_id])
