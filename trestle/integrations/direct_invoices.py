"""Direct invoices: Xero bills coded to a project → Procore direct costs (type invoice).

Picked up: bills (``ACCPAY``) in status AUTHORISED or PAID with a "Project" tracking option on
at least one line. DRAFT (and SUBMITTED) bills are not costs yet and are passed over silently;
approving one in Xero changes it, so the next run picks it up. Bills Trestle wrote itself are
never sent back: a bill that is the Xero side of a ``progress_claim`` link came from Procore
(and credit notes are a different Xero resource, never read here), so nothing is counted twice.

One bill becomes one direct cost in the project its lines are coded to, with ``origin_id`` =
InvoiceID (unique per company in Procore, so a bill can never land twice). A bill whose lines
name two or more projects is not split: it gets ``direct_cost.several_projects`` and the
bookkeeper splits it in Xero (one supplier invoice number in two projects is how costs get
counted twice). Lines without a Project option on a project bill are overhead and left out.

Lines: the line's "Cost Code" option → the linked standard cost code → that project's cost
code; lines sharing a cost code are added together (one direct cost line per cost code,
``origin_id`` = ``<InvoiceID>:<cost code id>``). A project line without a cost code option, an
option not linked to a standard code, or a code the project does not use is an issue (a
default code would misstate the budget); the whole bill waits until it is fixed. Amount =
LineAmount without tax (Exclusive and NoTax as is, Inclusive less the line's TaxAmount),
rounded half-up to the cent: job cost is net of recoverable tax. Vendor = the bill's contact
through the vendor link (not linked → issue). invoice_number = InvoiceNumber (required by
Procore → issue when blank), direct_cost_date = Date, payment_date = FullyPaidOnDate (PAID
bills), description = Reference, status ``approved`` (an AUTHORISED bill is approved for
payment in the accounts).

Writing. Procore locks a direct cost once its ``origin_id`` is set, and its sync action takes
no lines, so: a new bill is created with its lines in one v1.1 ``POST`` (a lost answer is
recovered by looking the ``origin_id`` up before resending). A changed bill is unlocked (sync
``origin_id: null``), then its header is re-synced with ``origin_id`` (locked again) when only
header fields changed, or it is deleted and created afresh when its lines or project changed.
A synced bill that is later VOIDED, DELETED or no longer coded to a project is removed from
Procore the same way (unlock, delete): it is no longer a cost. Each step is idempotent or
checked by ``origin_id`` first, so a crash at any point is finished by the next run.

The link's Procore id is ``"<project id>:<direct cost id>"`` (direct costs live in projects).
API calls: first run, one ``GET /Invoices`` per 1000 bills, one project cost code list per
project, then one POST per bill; incremental runs read only changed bills and write only
changed ones (a header change costs two sync calls per project batch).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any

from trestle.clients.errors import (
    ConflictError,
    FatalApiError,
    NotFoundError,
    OutcomeUnknownError,
    RetriableApiError,
    TransportError,
)
from trestle.integrations.claim_bills import ClaimBills
from trestle.integrations.lookups import DIRECT_COST, PROGRESS_CLAIM, Lookups, money
from trestle.jsonable import jsonable
from trestle.models.store import PendingIntent
from trestle.models.xero import Invoice, LineItem
from trestle.tasks.declaration import FieldMap, IssueCode
from trestle.tasks.engine import Integration, Page, Record, WriteItem, WriteResult

PAGE_SIZE = 1000
LIVE_STATUSES = ("AUTHORISED", "PAID")
GONE_STATUSES = ("VOIDED", "DELETED")
HEADER_FIELDS = ("vendor_id", "invoice_number", "direct_cost_date", "payment_date", "description", "status")


def direct_cost_target(project_id: int | str, direct_cost_id: int | str) -> str:
    """The link's Procore id for a direct cost: ``"<project id>:<direct cost id>"``."""
    return f"{project_id}:{direct_cost_id}"


def split_target(target_id: str) -> tuple[int, int]:
    """``(project id, direct cost id)`` from a link's Procore id."""
    project_id, direct_cost_id = target_id.split(":", 1)
    return int(project_id), int(direct_cost_id)


def net_line_amount(line: LineItem, line_amount_types: str | None) -> Decimal:
    """The line's amount without tax, to the cent (Inclusive lines carry their tax inside)."""
    amount = money(line.line_amount)
    if (line_amount_types or "Exclusive") == "Inclusive":
        amount -= money(line.tax_amount)
    return amount


class DirectInvoicesIntegration(Integration):
    name = "direct_invoices"
    title = "Direct invoices"
    entity = DIRECT_COST
    source_system = "xero"
    target_system = "procore"
    write_batch_size = 100
    summary = "Approved Xero bills coded to a project → Procore direct costs."
    # After progress claims: a bill is known to have come from Procore by its progress-claim link, and
    # that integration finishes its own pending bill writes (recovery) before this one reads bills.
    depends_on = ("vendors", "projects", "cost_codes", "progress_claims")
    per_project = True
    picked_up = (
        'AUTHORISED or PAID bills with a "Project" tracking option on at least one line that did not come from '
        "Procore (never a bill Trestle wrote for a claim, so nothing is counted twice). DRAFT bills wait until "
        "approved."
    )
    notes = (
        (
            "Written",
            "One direct cost (type invoice, status approved) per bill in its project. Lines without a project "
            "option are overhead and left out. A changed bill updates its direct cost; a voided one removes it.",
        ),
    )
    mapping = (
        FieldMap("origin_id", "InvoiceID"),
        FieldMap("vendor_id", "the contact's linked Procore vendor"),
        FieldMap("invoice_number", "InvoiceNumber"),
        FieldMap("direct_cost_date", "Date"),
        FieldMap("payment_date", "FullyPaidOnDate (PAID bills)"),
        FieldMap("direct_cost_type, status", "`invoice`, `approved`"),
        FieldMap("description", "Reference"),
        FieldMap(
            "line_items",
            "one per project cost code (the line's \"Cost Code\" option → standard code → the project's code; "
            "lines of the same code summed) at the amount excluding tax, rounded half-up to the cent",
        ),
    )
    settings_used = ("project_category", "cost_code_category", "overlap_minutes")
    issues = (
        IssueCode(
            "direct_cost.several_projects",
            "the bill's lines name two projects",
            "Split the bill in Xero so each bill is coded to one project (or code all its lines to the same project).",
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
        self.claim_bills = ClaimBills.from_store(self.ctx.store)  # progress claims not linked yet (a killed run)
        self.rebuild: set[str] = set()  # linked bills whose lines or project changed since the last write

    # ------------------------------------------------------------------ fetch
    def fetch(self, since: datetime | None) -> Iterator[Page]:
        batch: list[Record] = []
        high_water: datetime | None = None
        for invoice in self._read(modified_since=since):
            if invoice.updated_date_utc and (high_water is None or invoice.updated_date_utc > high_water):
                high_water = invoice.updated_date_utc
            if (record := self._record(invoice)) is not None:
                batch.append(record)
            if len(batch) >= PAGE_SIZE:
                yield Page(batch, high_water=high_water)
                batch = []
        if batch or high_water is not None:
            yield Page(batch, high_water=high_water)

    def fetch_by_ids(self, ids: Sequence[str]) -> list[Record]:
        return [record for invoice in self._read(ids=ids) if (record := self._record(invoice)) is not None]

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
        if invoice_id not in self.linked and (invoice.status not in LIVE_STATUSES or not projects):
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

    def _tracking(self, line: LineItem, category: str) -> tuple[str | None, str | None] | None:
        """``(option id, option name)`` of the line's option in ``category`` (casefolded name)."""
        for tracking in line.tracking or []:
            if (tracking.name or "").casefold() == category and (tracking.option or tracking.tracking_option_id):
                return tracking.tracking_option_id, tracking.option
        return None

    def _project_options(self, invoice: Invoice) -> list[tuple[str | None, str | None]]:
        options: dict[str, tuple[str | None, str | None]] = {}
        for line in invoice.line_items or []:
            if (found := self._tracking(line, self.project_category)) is not None:
                options.setdefault((found[1] or found[0] or "").casefold(), found)
        return list(options.values())

    def _is_gone(self, invoice: Invoice) -> bool:
        return invoice.status not in LIVE_STATUSES or not self._project_options(invoice)

    # --------------------------------------------------------------- validate
    def validate(self, record: Record) -> None:
        invoice: Invoice = record.data
        if self._is_gone(invoice):
            return  # a linked bill that was voided or uncoded: map() plans its removal
        projects = self._project_options(invoice)
        if len(projects) > 1:
            names = sorted(name or option_id or "" for option_id, name in projects)
            record.flag(
                "direct_cost.several_projects",
                f"The bill's lines are coded to {len(projects)} projects ({', '.join(names)}); a bill becomes one "
                "Procore direct cost in one project.",
                projects=names,
            )
            return
        option_id, option_name = projects[0]
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
            )
        if not (invoice.invoice_number or "").strip():
            record.flag("direct_cost.no_invoice_number", "The bill has no invoice number, which Procore requires.")

    # -------------------------------------------------------------------- map
    def map(self, record: Record) -> dict[str, Any]:
        invoice: Invoice = record.data
        if self._is_gone(invoice):
            return {"origin_id": record.id, "removed": True}
        option_id, option_name = self._project_options(invoice)[0]
        project_id = self.lookups.project_for_option(option_id, name=option_name)
        if project_id is None:  # validate() has flagged it; the record is skipped
            return {}
        lines = self._lines(record, invoice, project_id)
        contact_id = invoice.contact.contact_id if invoice.contact else None
        previous = record.link.last_payload if record.link is not None else None
        if previous is not None and (
            previous.get("removed")
            or previous.get("project_id") != project_id
            or previous.get("line_items") != jsonable(lines)
        ):
            self.rebuild.add(record.id)
        return {
            "project_id": project_id,
            "origin_id": record.id,
            "direct_cost_type": "invoice",
            "status": "approved",
            "vendor_id": self.lookups.vendor_for_contact(contact_id),
            "invoice_number": (invoice.invoice_number or "").strip(),
            "direct_cost_date": invoice.date,
            "payment_date": invoice.fully_paid_on_date if invoice.status == "PAID" else None,
            "description": invoice.reference or None,
            "line_items": lines,
        }

    def _lines(self, record: Record, invoice: Invoice, project_id: int) -> list[dict[str, Any]]:
        """One line per project cost code, amounts net of tax and added up; flags unusable lines."""
        by_code: dict[int, dict[str, Any]] = {}
        for number, line in enumerate(invoice.line_items or [], start=1):
            if self._tracking(line, self.project_category) is None:
                continue  # overhead on a project bill: not a job cost
            where = f"line {number} ('{line.description or ''}')"
            found = self._tracking(line, self.cost_code_category)
            option = found[1] if found else None
            if not option:
                record.flag("direct_cost.no_cost_code", f"{where} has no Cost Code option.", line=number)
                continue
            standard_id = self.lookups.standard_code_for_option(option)
            if standard_id is None:
                record.flag(
                    "direct_cost.cost_code_not_linked",
                    f"{where}: the Cost Code option '{option}' is not a Procore standard cost code.",
                    line=number,
                    option=option,
                )
                continue
            code = self.lookups.project_cost_code_for_standard(project_id, standard_id)
            if code is None or code.id is None:
                record.flag(
                    "direct_cost.cost_code_not_in_project",
                    f"{where}: the project does not use cost code '{option}'.",
                    line=number,
                    option=option,
                )
                continue
            entry = by_code.setdefault(
                code.id,
                {
                    "origin_id": f"{record.id}:{code.id}",
                    "cost_code_id": code.id,
                    "amount": Decimal("0.00"),
                    "texts": [],
                },
            )
            entry["amount"] += net_line_amount(line, invoice.line_amount_types)
            if line.description and line.description not in entry["texts"]:
                entry["texts"].append(line.description)
        return [
            {
                "origin_id": entry["origin_id"],
                "cost_code_id": entry["cost_code_id"],
                "amount": money(entry["amount"]),
                "description": "; ".join(entry["texts"])[:255] or None,
            }
            for entry in sorted(by_code.values(), key=lambda entry: entry["cost_code_id"])
        ]

    # ------------------------------------------------------------------ write
    def write(self, items: list[WriteItem], batch_key: str) -> list[WriteResult]:
        results: dict[str, WriteResult] = {}
        headers: dict[int, list[WriteItem]] = {}
        for item in items:
            if item.operation == "create":
                step = self._create
            elif item.payload.get("removed"):
                step = self._remove
            elif item.source_id in self.rebuild or not self._same_project(item):
                step = self._rebuild
            else:
                headers.setdefault(int(item.payload["project_id"]), []).append(item)
                continue
            results.update(self._unless_lost([item], partial(_keyed, step, item)))
        for project_id, group in headers.items():
            results.update(self._unless_lost(group, partial(self._update_headers, project_id, group)))
        return [results[item.source_id] for item in items]

    @staticmethod
    def _unless_lost(items: list[WriteItem], steps: Callable[[], dict[str, WriteResult]]) -> dict[str, WriteResult]:
        """Run a write's steps; an answer still lost after the client's retries leaves it for :meth:`recover`."""
        try:
            return steps()
        except (OutcomeUnknownError, RetriableApiError, TransportError):
            return {item.source_id: WriteResult(item.source_id, ok=False, outcome_unknown=True) for item in items}

    def recover(self, intents: list[PendingIntent]) -> list[WriteResult]:
        """Finish writes a crash or lost answer left pending, looking each ``origin_id`` up first.

        A direct cost found under the bill's ``origin_id`` that is not the one the link points at
        was created by the lost write: it is the answer. Anything else is redone through steps
        that are safe to repeat (unlock, delete if still there, create).
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
            if item.payload.get("removed"):
                results.append(self._remove(item))
                continue
            project_id = int(item.payload["project_id"])
            found = next(self.ctx.procore.iter_direct_costs(project_id, origin_id=item.source_id), None)
            target = direct_cost_target(project_id, found.id) if found is not None and found.id else None
            if target is not None and target != item.target_id:
                results.append(WriteResult(item.source_id, ok=True, target_id=target))
            else:
                results.append(self._rebuild(item) if item.target_id else self._create(item))
        return results

    def _same_project(self, item: WriteItem) -> bool:
        return item.target_id is not None and split_target(item.target_id)[0] == int(item.payload["project_id"])

    def _create(self, item: WriteItem) -> WriteResult:
        """One v1.1 POST with the lines; a lost answer stays pending for :meth:`recover`."""
        project_id = int(item.payload["project_id"])
        body = {key: value for key, value in item.payload.items() if key != "project_id" and value is not None}
        body["line_items"] = [
            {key: value for key, value in line.items() if value is not None} for line in body.get("line_items", [])
        ]
        try:
            created = self.ctx.procore.create_direct_cost(project_id, body)
        except ConflictError as exc:  # "origin_id has already been taken": an earlier write made it, so link it
            found = next(self.ctx.procore.iter_direct_costs(project_id, origin_id=item.source_id), None)
            if found is None or not found.id:
                return WriteResult(item.source_id, ok=False, error=exc.message)
            return WriteResult(item.source_id, ok=True, target_id=direct_cost_target(project_id, found.id))
        except FatalApiError as exc:
            return WriteResult(item.source_id, ok=False, error=exc.message)
        return WriteResult(item.source_id, ok=True, target_id=direct_cost_target(project_id, created.id or ""))

    def _unlock(self, project_id: int, direct_cost_ids: Sequence[int]) -> dict[int, str]:
        """Clear ``origin_id`` so Procore lets the direct costs change; errors by id (missing ones too)."""
        result = self.ctx.procore.sync_direct_costs(
            project_id, [{"id": dc, "origin_id": None} for dc in direct_cost_ids]
        )
        return {error.id: "; ".join(error.messages) for error in result.errors if error.id is not None}

    def _delete(self, project_id: int, direct_cost_id: int) -> None:
        with suppress(NotFoundError):  # already gone (an earlier attempt, or someone in Procore)
            self.ctx.procore.delete_direct_cost(project_id, direct_cost_id)

    def _remove(self, item: WriteItem) -> WriteResult:
        """Unlock and delete the direct cost of a bill that is no longer a project cost."""
        if item.target_id:
            project_id, direct_cost_id = split_target(item.target_id)
            try:
                self._unlock(project_id, [direct_cost_id])
                self._delete(project_id, direct_cost_id)
            except FatalApiError as exc:
                return WriteResult(item.source_id, ok=False, error=exc.message)
        return WriteResult(item.source_id, ok=True, target_id=item.target_id or f"removed:{item.source_id}")

    def _rebuild(self, item: WriteItem) -> WriteResult:
        """Lines or project changed: unlock, delete and create afresh (Procore keeps synced lines locked)."""
        removed = self._remove(item)
        return self._create(item) if removed.ok else removed

    def _update_headers(self, project_id: int, items: list[WriteItem]) -> dict[str, WriteResult]:
        """Only header fields changed: unlock the batch, then sync the headers back with ``origin_id``."""
        results: dict[str, WriteResult] = {}
        ids = {item.source_id: split_target(item.target_id or "")[1] for item in items}
        try:
            unlock_errors = self._unlock(project_id, list(ids.values()))
        except FatalApiError as exc:
            return {item.source_id: WriteResult(item.source_id, ok=False, error=exc.message) for item in items}
        ready = []
        for item in items:
            if ids[item.source_id] in unlock_errors:  # deleted in Procore meanwhile: create it again
                results[item.source_id] = self._create(item)
            else:
                ready.append(item)
        if not ready:
            return results
        updates = [
            {"id": ids[item.source_id], "origin_id": item.source_id}
            | {name: item.payload.get(name) for name in HEADER_FIELDS}
            for item in ready
        ]
        synced = self.ctx.procore.sync_direct_costs(project_id, updates)
        saved = {entity.origin_id for entity in synced.entities if entity.origin_id}
        errors = {error.id: "; ".join(error.messages) for error in synced.errors}
        for item in ready:
            if item.source_id in saved:
                results[item.source_id] = WriteResult(item.source_id, ok=True, target_id=item.target_id)
            else:
                error = errors.get(ids[item.source_id], "Procore returned no result")
                results[item.source_id] = WriteResult(item.source_id, ok=False, error=error)
        return results

    def source_url(self, record: Record) -> str | None:
        return self.source_url_for(record.id)

    def source_url_for(self, invoice_id: str) -> str:
        return self.ctx.links.xero_bill(invoice_id)

    def target_url(self, target_id: str) -> str | None:
        if ":" not in target_id:
            return None
        project_id, direct_cost_id = split_target(target_id)
        return self.ctx.links.procore_direct_cost(project_id, direct_cost_id)


def _keyed(step: Callable[[WriteItem], WriteResult], item: WriteItem) -> dict[str, WriteResult]:
    """One item's write step, its result keyed by the item's source id."""
    return {item.source_id: step(item)}
