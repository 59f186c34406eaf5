"""Progress claims: approved Procore subcontractor invoices → Xero bills and supplier credit notes.

Picked up: subcontractor invoices ("requisitions") of linked projects (``Lookups.integrated_project_ids()``,
which honours single-project runs) whose status is ``approved`` or ``approved_as_noted``; every other
status is still being reviewed in Procore and is left alone. Each project keeps its own cursor
(stream ``project-<id>``), so a project linked today is read in full and a single-project run
never moves the others' cursors. Skipped with a named issue when the vendor is not linked to a
Xero contact, the project has no "Project" option, an item's cost code has no "Cost Code" option,
or the claim bills nothing.

Mapping (one document per claim):

- A claim whose total is positive becomes a bill (``ACCPAY``); a negative one a supplier credit
  note (``ACCPAYCREDIT``) with the amounts turned positive. A zero claim is an issue.
- Contact: the vendor's linked Xero contact. InvoiceNumber (CreditNoteNumber) = the Procore
  invoice number, or ``<commitment number>-<claim number>`` when the subcontractor gave none.
- Date = billing date, else the period end. DueDate from the contact's bill payment terms
  (``DAYSAFTERBILLDATE``, ``DAYSAFTERBILLMONTH``, ``OFCURRENTMONTH``, ``OFFOLLOWINGMONTH``), else
  ``sync.bill_due_days`` after the bill date. Status = ``sync.bill_status`` when created; later
  updates never send a status, so approving or paying the bill stays the bookkeeper's decision.
- Lines (per cost code, change order items, retainage): see :mod:`trestle.integrations.progress_claim_lines`.
- The bill's ``Url`` points back at the Procore invoice.

Updates: approved claims are locked in Procore, so changes come from settings or renamed
options. A bill with payments (or PAID) cannot change in Xero: an issue, never a new bill.

Deleted records (``sync.on_deleted.progress_claims``): see :mod:`trestle.integrations.progress_claim_deletions`.

Reads: each linked project's whole list of claims once a night (``Lookups.project_requisitions``,
one call per project at 1,000 a page, shared with claim attachments); the changed claims are taken
from it by the project's cursor, and one that the overlap window returns at the version a run
already settled (``trestle.models.seen``) is left out. Claims with open issues are re-checked from
the same lists, and only when their blocker may have gone (``trestle.integrations.recheck``): a
claim whose vendor is not linked waits for that vendor's link, one whose cost codes have no option
for a change to the cost codes' links, one billing 0.00 for a change to the claim.

Written with ``POST /Invoices`` and ``POST /CreditNotes`` in
batches of 50 with an ``Idempotency-Key`` derived from the batch, so a resend replays.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from trestle.clients.xero_batch import BatchResult
from trestle.integrations.lookups import PROGRESS_CLAIM, Lookups
from trestle.integrations.progress_claim_deletions import GONE_STATUSES, ClaimDeletions
from trestle.integrations.progress_claim_lines import BILL, CREDIT_NOTE, ClaimLines, due_date
from trestle.integrations.progress_claim_updates import ClaimUpdates
from trestle.models.links import LinkRow
from trestle.models.procore import Commitment, Requisition
from trestle.models.unreadable import unreadable_keys
from trestle.models.xero import CreditNote, Invoice, PaymentTerm
from trestle.tasks.declaration import FieldMap, IssueCode
from trestle.tasks.deleted import deleted_issue
from trestle.tasks.engine import Page, Record, WriteItem, WriteResult
from trestle.timeutil import to_utc
from trestle.webhooks.feed import projects_to_read

__all__ = ["APPROVED_STATUSES", "ProgressClaimsIntegration", "due_date"]

APPROVED_STATUSES = frozenset({"approved", "approved_as_noted"})


def _picked_up(requisition: Requisition) -> bool:
    """Approved, or with a status Procore sent unreadably: that claim is named, never passed over."""
    return (requisition.status or "") in APPROVED_STATUSES or "status" in unreadable_keys(requisition)


PAGE_SIZE = 200


class ProgressClaimsIntegration(ClaimLines, ClaimUpdates, ClaimDeletions):
    name = "progress_claims"
    title = "Progress claims"
    entity = PROGRESS_CLAIM
    source_system = "procore"
    target_system = "xero"
    write_batch_size = 50
    summary = "Approved Procore subcontractor invoices → Xero bills and supplier credit notes."
    depends_on = ("vendors", "projects", "cost_codes", "commitments")
    per_project = True
    feed_resources = ("Requisitions",)  # change feed
    on_deleted = ("report", "recreate", "propagate")
    picked_up = (
        "Subcontractor invoices of linked projects with status `approved` or `approved_as_noted` (each project "
        "has its own cursor)."
    )
    notes = (
        (
            "Written",
            "A positive claim becomes a bill (`ACCPAY`), a negative one a supplier credit note with positive "
            "amounts. **Retainage**: with `TRESTLE_SYNC_RETAINAGE_ACCOUNT_CODE`, gross lines plus one negative "
            '"Retainage held" line on that account; without it, lines net of retainage — either way the bill '
            "equals what is payable now. Status `TRESTLE_SYNC_BILL_STATUS` when created; updates never send a "
            "status. Written 50 per call with an `Idempotency-Key`.",
        ),
    )
    mapping = (
        FieldMap("Contact", "the vendor's linked contact"),
        FieldMap("InvoiceNumber", "the subcontractor's invoice number (else `<commitment number>-<claim number>`)"),
        FieldMap("Date", "billing date (else period end)"),
        FieldMap("DueDate", "the contact's bill payment terms, else `TRESTLE_SYNC_BILL_DUE_DAYS` after Date"),
        FieldMap(
            "LineItems",
            "one per cost code: work completed this period + materials stored, contract and change order items",
        ),
        FieldMap("LineItems[].AccountCode", "`TRESTLE_SYNC_BILL_ACCOUNT_CODE`"),
        FieldMap("LineItems[].TaxType", "per the tax mode and map"),
        FieldMap("LineItems[].Tracking", "the project's option + the cost code's option"),
        FieldMap("Url", "the Procore invoice"),
    )
    settings_used = (
        "bill_account_code",
        "retainage_account_code",
        "bill_status",
        "bill_due_days",
        "tax_mode",
        "tax_map",
        "default_tax_type",
    )
    issues = (
        IssueCode(
            "progress_claim.vendor_not_linked",
            "the subcontractor is not linked to a Xero contact",
            "Add the subcontractor's Xero contact to the Procore contact group (or fix the vendor match shown "
            "under Vendors); the next run sends the claim.",
        ),
        IssueCode(
            "progress_claim.project_not_linked",
            "the project has no Xero option",
            "Move the project to the 'Send to Xero' stage in Procore so it gets its Xero 'Project' option; the "
            "next run sends the claim.",
        ),
        IssueCode(
            "progress_claim.cost_code_not_linked",
            "an item's cost code has no Xero option",
            "Use a cost code from the company's standard list on the commitment line in Procore, or check the cost "
            "code issues under Cost codes.",
        ),
        IssueCode(
            "progress_claim.zero_amount",
            "the claim bills nothing",
            "Nothing to bill: check the work completed and materials stored on the claim in Procore; a claim with "
            "amounts is sent on the next run.",
        ),
        IssueCode(
            "progress_claim.bill_paid",
            "the bill has payments in Xero, so a change cannot be sent",
            "The bill has payments in Xero, so it cannot change. Enter the difference as a new bill or credit note "
            "in Xero, or remove the payments first and the next run updates it.",
        ),
        deleted_issue(
            PROGRESS_CLAIM,
            "progress_claims",
            "xero",
            "the claim's bill or credit note",
            "If the claim still stands, re-enter it in Xero by hand, or delete the claim in Procore.",
        ),
        deleted_issue(
            PROGRESS_CLAIM,
            "progress_claims",
            "procore",
            "the claim",
            "Void or delete its bill in Xero by hand if it no longer stands.",
        ),
        IssueCode(
            "progress_claim.bill_not_deletable",
            "the claim was deleted in Procore but its Xero document is approved or paid",
            "Trestle only deletes DRAFT or SUBMITTED documents without payments. Void the bill in Xero by hand "
            "(remove its payments first), or re-enter the claim in Procore.",
        ),
        IssueCode(
            "progress_claim.type_changed",
            "the claim changed sign after its bill/credit note was written",
            "The claim's total changed sign after it was sent (bill ↔ credit note); void the Xero document and "
            "enter the correct one by hand.",
        ),
        IssueCode(
            "progress_claim.write_rejected",
            "Xero refused the bill (message shown)",
            "Correct what Xero's message names (contact, account code, tax type) and the next run retries.",
        ),
        IssueCode(
            "progress_claim.target_already_linked",
            "another claim is already linked to that Xero document",
            "Two claims point at the same Xero document; contact support.",
        ),
    )

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.lookups = Lookups.of(ctx)
        self.project_of: dict[str, int] = {}  # requisition id -> project id, for re-reads by id
        self.commitments: dict[int, dict[int, Commitment]] = {}  # project id -> commitment id -> commitment
        self.commitment_lines: dict[int, dict[int, int | None]] = {}  # commitment id -> line id -> tax code id
        self.tax_codes: dict[int, str] | None = None
        self.payment_terms: dict[str, PaymentTerm | None] = {}
        self.current_docs: dict[str, Invoice | CreditNote] = {}
        self.doc_types: dict[str, str] = {}
        self.gone_links: dict[str, LinkRow] = {}  # claim id -> link, for linked claims no longer in Procore
        self.deletion_found: set[str] = set()  # claims the deletion check found: always re-read

    # ---------------------------------------------------------------- prepare
    def prepare(self) -> None:
        for link in self.lookups.links(self.entity):
            self.doc_types[link.xero_id] = str((link.last_payload or {}).get("Type", BILL))

    # ------------------------------------------------------------------ fetch
    def fetch(self, since: datetime | None) -> Iterator[Page]:
        # ``since`` belongs to the default stream, which this integration does not use: each
        # project has its own cursor (see the module docstring). The project's whole list is read
        # once a night (:meth:`Lookups.project_requisitions`) and its changed claims taken from it;
        # a claim returned again by the overlap window at the version a run settled is left out.
        scope = projects_to_read(self)  # every integrated project, or with the change feed the changed ones
        for project_id in scope.project_ids:
            stream = f"project-{project_id}"
            start = self.stream_since(stream)
            approved: list[Requisition] = []
            high_water: datetime | None = None
            for requisition in self.lookups.project_requisitions(project_id):
                stamp = requisition.updated_at
                if start is not None and (stamp is None or to_utc(stamp) < start):
                    continue
                if stamp and (high_water is None or stamp > high_water):
                    high_water = stamp
                self.project_of[str(requisition.id)] = project_id
                if _picked_up(requisition) and not self.settled(requisition.id, stamp):
                    approved.append(requisition)
            for first in range(0, max(len(approved), 1), PAGE_SIZE):
                chunk = approved[first : first + PAGE_SIZE]
                last = first + PAGE_SIZE >= len(approved)
                yield Page(self._records(chunk), stream=stream, high_water=high_water if last else None)
        yield from scope.pages

    def fetch_by_ids(self, ids: Sequence[str]) -> list[Record]:
        """Claims by id from the projects' lists of the night, leaving out those whose open issues
        are all still blocked (:mod:`trestle.integrations.recheck`)."""
        wanted = set(self._to_recheck(ids))
        integrated = self.lookups.integrated_project_ids()
        known = {self.project_of[i] for i in wanted if i in self.project_of}
        projects = sorted(known) if all(i in self.project_of for i in wanted) else integrated
        found = [
            requisition
            for project_id in projects
            if project_id in integrated
            for requisition in self.lookups.project_requisitions(project_id)
            if str(requisition.id) in wanted and _picked_up(requisition)
        ]
        return self._records(found) + self._gone_records(sorted(wanted))

    def _records(self, requisitions: list[Requisition]) -> list[Record]:
        """Records for a page of claims, after loading what mapping them needs in a few calls."""
        if not requisitions:
            return []
        for project_id in sorted({r.project_id for r in requisitions if r.project_id is not None}):
            self._load_project(project_id, [r for r in requisitions if r.project_id == project_id])
        self._load_payment_terms(requisitions)
        records = []
        for requisition in requisitions:
            self.project_of[str(requisition.id)] = requisition.project_id or 0
            records.append(
                Record(
                    str(requisition.id),
                    self._label(requisition),
                    requisition,
                    updated_at=requisition.updated_at,
                    url=self.ctx.links.procore_requisition(requisition.project_id or 0, requisition.id),
                )
            )
        return records

    def _invoice_number(self, requisition: Requisition) -> str:
        return (
            requisition.invoice_number or ""
        ).strip() or f"{self._commitment_number(requisition)}-{requisition.number}"

    def _label(self, requisition: Requisition) -> str:
        who = requisition.vendor_name or requisition.contract_name or "claim"
        claim = f"{self._commitment_number(requisition)} #{requisition.number}"
        return f"{self._invoice_number(requisition)} · {who} ({claim})"

    # --------------------------------------------------------------- validate
    def validate(self, record: Record) -> None:
        requisition: Requisition = record.data
        if self.lookups.contact_for_vendor(requisition.vendor_id) is None:
            record.flag(
                "progress_claim.vendor_not_linked",
                f"The vendor '{requisition.vendor_name or requisition.vendor_id}' is not linked to a Xero contact, "
                "so the claim was not sent.",
                vendor_id=requisition.vendor_id,
            )
        if self.lookups.project_option(requisition.project_id) is None:
            record.flag(
                "progress_claim.project_not_linked",
                f"Project #{requisition.project_id} has no Xero 'Project' option, so the claim was not sent.",
                project_id=requisition.project_id,
            )

    # -------------------------------------------------------------------- map
    def map(self, record: Record) -> dict[str, Any]:
        requisition: Requisition = record.data
        lines = self._lines(record, requisition)
        total = sum((line["UnitAmount"] for line in lines), Decimal("0.00"))
        if record.issues:
            return {}
        if total == 0:
            record.flag("progress_claim.zero_amount", "The claim bills nothing this period (its total is 0.00).")
            return {}
        kind = BILL if total > 0 else CREDIT_NOTE
        if kind == CREDIT_NOTE:
            lines = [{**line, "UnitAmount": -line["UnitAmount"]} for line in lines]
        sync = self.ctx.settings.sync
        contact_id = self.lookups.contact_for_vendor(requisition.vendor_id) or ""
        bill_date = requisition.billing_date or requisition.requisition_end or date.today()
        payload: dict[str, Any] = {
            "Type": kind,
            "Contact": {"ContactID": contact_id},
            "Date": bill_date,
            "Status": sync.bill_status,
            "LineAmountTypes": self.lookups.line_amount_types(),
            "LineItems": lines,
        }
        if kind == BILL:
            payload["InvoiceNumber"] = self._invoice_number(requisition)
            payload["DueDate"] = due_date(bill_date, self.payment_terms.get(contact_id), sync.bill_due_days)
            payload["Url"] = record.url
        else:
            payload["CreditNoteNumber"] = self._invoice_number(requisition)
        return payload

    # ------------------------------------------------------------------ write
    def write_group(self, record: Record) -> str:
        """Bills and credit notes go to two endpoints: each fills its own batches of 50."""
        return str((record.payload or {}).get("Type", BILL))

    def write(self, items: list[WriteItem], batch_key: str) -> list[WriteResult]:
        results: dict[str, WriteResult] = {}
        groups = (
            (BILL, "InvoiceID", self.ctx.xero.save_invoices, "bills"),
            (CREDIT_NOTE, "CreditNoteID", self.ctx.xero.save_credit_notes, "credit-notes"),
        )
        for kind, id_key, save, suffix in groups:
            group = [item for item in items if item.payload.get("Type") == kind]
            if not group:
                continue
            elements = [_element(item, id_key) for item in group]
            answers: Sequence[BatchResult[Any]] = save(elements, idempotency_key=f"{batch_key}-{suffix}")
            for item, answer in zip(group, answers, strict=True):
                document_id = getattr(answer.record, "invoice_id" if kind == BILL else "credit_note_id", None)
                if answer.outcome_unknown:
                    results[item.source_id] = WriteResult(item.source_id, ok=False, outcome_unknown=True)
                elif answer.ok and document_id:
                    self.doc_types[document_id] = kind
                    results[item.source_id] = WriteResult(item.source_id, ok=True, target_id=document_id)
                else:
                    message = "; ".join(answer.errors) or "Xero returned no document"
                    paid = "payment" in message.casefold() and item.operation == "update"
                    results[item.source_id] = WriteResult(
                        item.source_id, ok=False, error=message, code="progress_claim.bill_paid" if paid else None
                    )
        return [results[item.source_id] for item in items]

    # ------------------------------------------------------------------ links
    def target_url(self, target_id: str) -> str | None:
        if self.doc_types.get(target_id) == CREDIT_NOTE:
            return self.ctx.links.xero_credit_note(target_id)
        return self.ctx.links.xero_bill(target_id)


def _element(item: WriteItem, id_key: str) -> dict[str, Any]:
    """The Xero element for one write: the payload, plus the document ID (and no status) for updates."""
    element = dict(item.payload)
    if item.operation == "update" and item.target_id:
        element[id_key] = item.target_id
        if element.get("Status") not in GONE_STATUSES:  # only a propagated deletion sends a status
            element.pop("Status", None)
    return element
