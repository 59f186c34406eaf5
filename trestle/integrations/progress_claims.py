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
- One line per cost code (items of the same cost code summed): amount = work completed this
  period + materials presently stored, account ``sync.bill_account_code``, tracking = the
  project's and the cost code's options, TaxType from ``Lookups.tax_type`` (the commitment
  line's Procore tax code through ``sync.tax_map``; commitments are only read when a map is set).
  LineAmountTypes from ``sync.tax_mode`` (Procore amounts exclude tax by default).
- Change order items: what a claim bills against approved commitment change orders comes in the
  same v1.1 ``items`` view (``item_type`` ``change_order_item``, next to ``contract_item``; the
  spec lists both), so it joins its cost code's line with no extra call —
  ``GET /requisitions/{id}/change_order_items`` would cost one call per claim for the same
  items. Their tax type is the default one: the tax code of a change order line is not read.
- Retainage: with ``sync.retainage_account_code`` set, lines are gross and one negative
  "Retainage held" line on that account (default tax type, no tracking) takes the retention
  off, so job costs show the full value of work done and the retention sits on its own account
  until released. Without it, lines are net of retainage: the bill then equals what is payable
  now, so accounts payable and later payments agree, and the retention is billed when a later
  claim releases it. Both ways the bill total is the same.
- The bill's ``Url`` points back at the Procore invoice.

Updates: approved claims are locked in Procore, so changes come from settings or renamed
options. A bill with payments (or PAID) cannot change in Xero: an issue, never a new bill.

Deleted records (``sync.on_deleted.progress_claims``, see :mod:`trestle.tasks.deleted`): a bill or
credit note VOIDED or DELETED in Xero is reported (``progress_claim.deleted_in_xero``) or, with
``recreate``, written again once. A linked claim no longer in Procore is reported
(``progress_claim.deleted_in_procore``) or, with ``propagate``, its DRAFT or SUBMITTED document
without payments is set DELETED in Xero; any other document is ``progress_claim.bill_not_deletable``.
Found each run with one Xero list call per document kind (VOIDED/DELETED since the last check) and,
in Procore, from the projects' lists of the night (no call of its own).

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

import calendar
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from trestle.batching import chunked
from trestle.clients.procore_commitments import CommitmentKind
from trestle.clients.xero_batch import BatchResult
from trestle.integrations import recheck
from trestle.integrations.lookups import COST_CODE, PROGRESS_CLAIM, VENDOR, Lookups, money
from trestle.integrations.recheck import STAMP, links_stamp, record_only, still_unlinked, to_recheck, unchanged_stamp
from trestle.models.links import LinkRow
from trestle.models.procore import Commitment, CostCode, Requisition, RequisitionItem
from trestle.models.unreadable import unreadable_keys
from trestle.models.xero import CreditNote, Invoice, PaymentTerm
from trestle.tasks.declaration import FieldMap, IssueCode
from trestle.tasks.deleted import SourceGone, deleted_issue
from trestle.tasks.engine import Integration, Page, Record, WriteItem, WriteResult
from trestle.timeutil import to_utc
from trestle.webhooks.feed import projects_to_read

__all__ = ["APPROVED_STATUSES", "ProgressClaimsIntegration", "due_date"]

APPROVED_STATUSES = frozenset({"approved", "approved_as_noted"})


def _picked_up(requisition: Requisition) -> bool:
    """Approved, or with a status Procore sent unreadably: that claim is named, never passed over."""
    return (requisition.status or "") in APPROVED_STATUSES or "status" in unreadable_keys(requisition)


BILL, CREDIT_NOTE = "ACCPAY", "ACCPAYCREDIT"
PAGE_SIZE = 200
CREDIT_NOTE_QUERY_CHUNK = 25
RETAINAGE_DESCRIPTION = "Retainage held"
GONE_STATUSES = ("VOIDED", "DELETED")
DELETABLE_STATUSES = ("DRAFT", "SUBMITTED")
_COMMITMENT_KINDS: tuple[CommitmentKind, ...] = ("work_order", "purchase_order")


def due_date(bill_date: date, term: PaymentTerm | None, default_days: int) -> date:
    """When a bill dated ``bill_date`` falls due under the contact's bill terms (else ``default_days``)."""
    if term is None or term.day is None or term.type is None:
        return bill_date + timedelta(days=default_days)
    day = term.day
    if term.type == "DAYSAFTERBILLDATE":
        return bill_date + timedelta(days=day)
    month_end = bill_date.replace(day=calendar.monthrange(bill_date.year, bill_date.month)[1])
    if term.type == "DAYSAFTERBILLMONTH":
        return month_end + timedelta(days=day)
    if term.type == "OFCURRENTMONTH":
        return max(bill_date, bill_date.replace(day=min(day, month_end.day)))
    if term.type == "OFFOLLOWINGMONTH":
        first_next = month_end + timedelta(days=1)
        last_day = calendar.monthrange(first_next.year, first_next.month)[1]
        return first_next.replace(day=min(day, last_day))
    return bill_date + timedelta(days=default_days)


class ProgressClaimsIntegration(Integration):
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

    def _to_recheck(self, ids: Sequence[str]) -> list[str]:
        if not recheck.applies(self.ctx):
            return list(ids)
        issues = self.ctx.store.open_issues(integration=self.name, entity=self.entity)
        cost_codes = self.lookups.links(COST_CODE)
        # A claim answered without its vendor or project is re-read every run: the night's claims
        # list is read anyway, so it costs no call, and an answer that left the field out (a
        # server's glitch, not an edit) comes back whole without moving ``updated_at``.
        blockers = {
            "progress_claim.vendor_not_linked": still_unlinked(
                "vendor_id", self.lookups.contact_for_vendor, unnamed_blocks=False
            ),
            "progress_claim.project_not_linked": still_unlinked(
                "project_id", self.lookups.project_option, unnamed_blocks=False
            ),
            "progress_claim.cost_code_not_linked": unchanged_stamp(lambda: links_stamp(cost_codes)),
            "progress_claim.zero_amount": record_only,  # approved claims are locked in Procore
        }
        return to_recheck(ids, issues, blockers, always=self.deletion_found | self._manual_unwritten())

    def _manual_unwritten(self) -> set[str]:
        return {
            link.procore_id
            for link in self.lookups.links(self.entity)
            if link.origin == "manual" and link.fingerprint is None
        }

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

    def _load_project(self, project_id: int, requisitions: list[Requisition]) -> None:
        self.lookups.project_cost_codes(project_id)
        if project_id not in self.commitments:
            self.commitments[project_id] = {
                commitment.id: commitment
                for kind in _COMMITMENT_KINDS
                for commitment in self.lookups.project_commitments(kind, project_id)
            }
        if not self.ctx.settings.sync.tax_map:
            return  # every line gets the default tax type: the commitments' lines are not needed
        if self.tax_codes is None:
            self.tax_codes = {code.id: code.code or "" for code in self.ctx.procore.tax_codes()}
        for commitment_id in {r.commitment_id for r in requisitions if r.commitment_id is not None}:
            if commitment_id in self.commitment_lines:
                continue
            kind: CommitmentKind = (
                "purchase_order" if "purchase" in self._commitment_type(project_id, commitment_id) else "work_order"
            )
            detail = self.ctx.procore.commitment(kind, project_id, commitment_id)
            self.commitment_lines[commitment_id] = {
                line.id: line.tax_code_id for line in detail.line_items or [] if line.id is not None
            }

    def _commitment_type(self, project_id: int, commitment_id: int) -> str:
        commitment = self.commitments.get(project_id, {}).get(commitment_id)
        return (commitment.type or "").casefold() if commitment else ""

    def _load_payment_terms(self, requisitions: list[Requisition]) -> None:
        """Bill terms of the claims' contacts; the first time, of every linked vendor's contact at
        once (one read for the whole run, shared with the night, instead of one per page)."""
        contacts = {str(c) for r in requisitions if (c := self.lookups.contact_for_vendor(r.vendor_id))}
        if not contacts - set(self.payment_terms):
            return
        linked = {link.xero_id for link in self.lookups.links(VENDOR)}
        wanted = contacts | (linked if not self.payment_terms else set())
        found = self.lookups.contacts(wanted)
        for contact_id in wanted:
            contact = found.get(contact_id)
            self.payment_terms[contact_id] = contact.payment_terms.bills if contact and contact.payment_terms else None

    def prepare_updates(self, records: list[Record]) -> None:
        """The Xero documents of the claims about to be updated (to refuse changing paid ones),
        read only for those: a night with nothing to update reads none."""
        linked = [record.target_id for record in records if record.target_id not in self.current_docs]
        bills = [doc_id for doc_id in linked if doc_id and self.doc_types.get(doc_id, BILL) == BILL]
        credits = [doc_id for doc_id in linked if doc_id and self.doc_types.get(doc_id) == CREDIT_NOTE]
        for invoice in self.ctx.xero.get_invoices(bills):
            self.current_docs[invoice.invoice_id or ""] = invoice
        for chunk in chunked(credits, CREDIT_NOTE_QUERY_CHUNK):
            where = " OR ".join(f'CreditNoteID==Guid("{credit_id}")' for credit_id in chunk)
            for note in self.ctx.xero.iter_credit_notes(where=where):
                self.current_docs[note.credit_note_id or ""] = note

    def _commitment_number(self, requisition: Requisition) -> str:
        commitment = self.commitments.get(requisition.project_id or 0, {}).get(requisition.commitment_id or 0)
        return (commitment.number if commitment else None) or f"C{requisition.commitment_id}"

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

    def _lines(self, record: Record, requisition: Requisition) -> list[dict[str, Any]]:
        """One line per (cost code, tax type), plus the retainage line when that account is set."""
        project_id = requisition.project_id or 0
        codes = self.lookups.project_cost_codes(project_id)
        project_option = self.lookups.project_option(project_id)
        sync = self.ctx.settings.sync
        keep_gross = bool(sync.retainage_account_code)
        grouped: dict[tuple[int, str | None], Decimal] = {}
        unlinked: list[str] = []
        retained = Decimal("0.00")
        for item in requisition.items or []:
            code = codes.get(item.cost_code_id or 0)
            option = self.lookups.cost_code_option(code.standard_cost_code_id) if code else None
            if code is None or option is None:
                unlinked.append(code.full_code or code.name or str(code.id) if code else f"#{item.cost_code_id}")
                continue
            gross, retainage = _gross_and_retainage(item)
            retained += retainage
            key = (code.id, self.lookups.tax_type(self._tax_code(requisition, item)))
            grouped[key] = grouped.get(key, Decimal("0.00")) + (gross if keep_gross else gross - retainage)
        if unlinked:
            record.flag(
                "progress_claim.cost_code_not_linked",
                "These cost codes have no Xero 'Cost Code' option (not on the standard list, or not linked): "
                + ", ".join(sorted(set(unlinked))),
                cost_codes=sorted(set(unlinked)),
                **{STAMP: links_stamp(self.lookups.links(COST_CODE))},
            )
            return []
        lines = [
            self._line(codes[code_id], amount, tax_type, requisition, project_option, sync.bill_account_code, record)
            for (code_id, tax_type), amount in sorted(grouped.items(), key=lambda kv: codes[kv[0][0]].full_code or "")
        ]
        if keep_gross and retained:
            retainage_line: dict[str, Any] = {
                "Description": RETAINAGE_DESCRIPTION,
                "Quantity": Decimal(1),
                "UnitAmount": -money(retained),
                "AccountCode": sync.retainage_account_code,
            }
            if (tax_type := self.lookups.tax_type(None)) is not None:
                retainage_line["TaxType"] = tax_type
            lines.append(retainage_line)
        return lines

    def _line(
        self,
        code: CostCode,
        amount: Decimal,
        tax_type: str | None,
        requisition: Requisition,
        project_option: str | None,
        account_code: str,
        record: Record,
    ) -> dict[str, Any]:
        standard_option = self.lookups.cost_code_option(code.standard_cost_code_id)
        line: dict[str, Any] = {
            "Description": f"{code.full_code or code.code or ''} {code.name or ''}".strip()
            + f" – progress claim {requisition.number} on {self._commitment_number(requisition)}",
            "Quantity": Decimal(1),
            "UnitAmount": money(amount),
            "AccountCode": account_code,
            "Tracking": self.lookups.tracking(project_option, standard_option),
        }
        if tax_type is not None:
            line["TaxType"] = tax_type
        return line

    def _tax_code(self, requisition: Requisition, item: RequisitionItem) -> str | None:
        if not self.tax_codes:
            return None
        tax_code_id = self.commitment_lines.get(requisition.commitment_id or 0, {}).get(item.line_item_id or 0)
        return self.tax_codes.get(tax_code_id) if tax_code_id is not None else None

    # ---------------------------------------------------------------- updates
    def check_update(self, record: Record) -> None:
        payload = record.payload or {}
        if record.link is not None and (record.link.last_payload or {}).get("Type") != payload.get("Type"):
            record.flag(
                "progress_claim.type_changed",
                "The claim was sent as a "
                + ("bill" if payload.get("Type") == CREDIT_NOTE else "credit note")
                + " but its total has since changed sign.",
            )
            return
        current = self.current_docs.get(record.target_id or "")
        if current is None:
            return
        status = current.status or ""
        paid = isinstance(current, Invoice) and (current.amount_paid or 0) > 0
        number = getattr(current, "invoice_number", None) or getattr(current, "credit_note_number", None)
        if status == "PAID" or paid:  # VOIDED or DELETED ones are handled as deleted (trestle.tasks.deleted)
            record.flag(
                "progress_claim.bill_paid",
                f"The Xero bill {number or ''} has payments, so Xero will not accept the changes from Procore.",
                status=status,
                changes=[change.field for change in record.changes],
            )

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

    # ---------------------------------------------------------- deleted records
    def deletion_candidates(self, since: datetime | None) -> set[str]:
        """Claims whose document was voided or deleted in Xero since ``since``, and linked claims that
        are no longer in Procore (remembered for :meth:`_gone_records`)."""
        links = {link.procore_id: link for link in self.lookups.links(self.entity) if not _deleted_by_trestle(link)}
        if not links:
            return set()
        claim_of = {link.xero_id: claim_id for claim_id, link in links.items()}
        gone_docs: list[str | None] = []
        for invoice in self.ctx.xero.iter_invoices(
            modified_since=since, statuses=GONE_STATUSES, where=f'Type=="{BILL}"'
        ):
            gone_docs.append(invoice.invoice_id)
            self.current_docs[invoice.invoice_id or ""] = invoice  # what target_gone reads: no second lookup
        if any(self.doc_types.get(link.xero_id) == CREDIT_NOTE for link in links.values()):
            where = " OR ".join(f'Status=="{status}"' for status in GONE_STATUSES)
            for note in self.ctx.xero.iter_credit_notes(modified_since=since, where=where):
                if note.type == CREDIT_NOTE:
                    gone_docs.append(note.credit_note_id)
                    self.current_docs[note.credit_note_id or ""] = note
        self.gone_links = self._claims_not_in_procore(links)
        self.deletion_found = {claim_of[doc_id] for doc_id in gone_docs if doc_id in claim_of} | set(self.gone_links)
        return self.deletion_found

    def _claims_not_in_procore(self, links: dict[str, LinkRow]) -> dict[str, LinkRow]:
        """Linked claims of integrated projects that Procore no longer lists, whatever their status."""
        by_project: dict[int, list[int]] = {}
        for project_id in projects_to_read(self).project_ids:  # a deletion is an event too
            url_of = self.ctx.links.procore_requisition
            option = self.lookups.project_option(project_id)
            for claim_id, link in links.items():
                payload = link.last_payload or {}
                if payload.get("Url") == url_of(project_id, claim_id) or _tracked_to(payload, option):
                    by_project.setdefault(project_id, []).append(int(claim_id))
        missing: dict[str, LinkRow] = {}
        for project_id, claim_ids in sorted(by_project.items()):
            found = {r.id for r in self.lookups.project_requisitions(project_id)}
            missing |= {str(claim_id): links[str(claim_id)] for claim_id in claim_ids if claim_id not in found}
        return missing

    def _gone_records(self, ids: Sequence[str]) -> list[Record]:
        """Records standing in for the claims among ``ids`` that are no longer in Procore."""
        gone = [self.gone_links[claim_id] for claim_id in ids if claim_id in self.gone_links]
        bills = [link.xero_id for link in gone if self.doc_types.get(link.xero_id, BILL) == BILL]
        for invoice in self.ctx.xero.get_invoices(bills):
            self.current_docs[invoice.invoice_id or ""] = invoice
        credits = [link.xero_id for link in gone if self.doc_types.get(link.xero_id) == CREDIT_NOTE]
        for chunk in chunked(credits, CREDIT_NOTE_QUERY_CHUNK):
            where = " OR ".join(f'CreditNoteID==Guid("{credit_id}")' for credit_id in chunk)
            for note in self.ctx.xero.iter_credit_notes(where=where):
                self.current_docs[note.credit_note_id or ""] = note
        return [
            Record(link.procore_id, link.label, SourceGone(link.procore_id, "procore", "no longer in Procore"))
            for link in gone
        ]

    def target_gone(self, record: Record) -> str | None:
        if record.link is None or _deleted_by_trestle(record.link):
            return None
        current = self.current_docs.get(record.target_id or "")
        status = (current.status if current else None) or ""
        return status if status in GONE_STATUSES else None

    def propagation_payload(self, record: Record) -> dict[str, Any] | None:
        kind = str(((record.link.last_payload if record.link else None) or {}).get("Type", BILL))
        current = self.current_docs.get(record.target_id or "")
        status = (current.status if current else None) or ""
        if status in GONE_STATUSES:  # already gone in Xero: the link only records it
            return {"Type": kind, "Status": status}
        paid = isinstance(current, Invoice) and ((current.amount_paid or 0) > 0 or (current.amount_credited or 0) > 0)
        if current is None or status not in DELETABLE_STATUSES or paid:
            number = getattr(current, "invoice_number", None) or getattr(current, "credit_note_number", None)
            record.flag(
                "progress_claim.bill_not_deletable",
                f"The claim is no longer in Procore, but its Xero document {number or record.target_id} is "
                f"{status or 'not found'}{' with payments' if paid else ''}, so Trestle did not delete it.",
                status=status,
            )
            return None
        return {"Type": kind, "Status": "DELETED"}

    def target_url(self, target_id: str) -> str | None:
        if self.doc_types.get(target_id) == CREDIT_NOTE:
            return self.ctx.links.xero_credit_note(target_id)
        return self.ctx.links.xero_bill(target_id)


def _gross_and_retainage(item: RequisitionItem) -> tuple[Decimal, Decimal]:
    """What an item bills this period (work + materials stored) and the retainage held on it."""
    gross = money(item.work_completed_this_period) + money(item.materials_presently_stored)
    held = [item.work_completed_retainage_retained_this_period, item.materials_stored_retainage_currently_retained]
    if any(value is not None for value in held):
        return gross, money(held[0]) + money(held[1])
    if item.net_amount is not None:
        return gross, gross - money(item.net_amount)
    return gross, Decimal("0.00")


def _deleted_by_trestle(link: LinkRow) -> bool:
    """Whether the link records a deletion Trestle made or learnt of (a propagated one)."""
    return (link.last_payload or {}).get("Status") in GONE_STATUSES


def _tracked_to(payload: dict[str, Any], project_option: str | None) -> bool:
    """Whether a written document's lines are tracked to ``project_option`` (credit notes have no Url)."""
    if not project_option:
        return False
    return any(
        tracking.get("Option") == project_option
        for line in payload.get("LineItems") or []
        for tracking in line.get("Tracking") or []
    )


def _element(item: WriteItem, id_key: str) -> dict[str, Any]:
    """The Xero element for one write: the payload, plus the document ID (and no status) for updates."""
    element = dict(item.payload)
    if item.operation == "update" and item.target_id:
        element[id_key] = item.target_id
        if element.get("Status") not in GONE_STATUSES:  # only a propagated deletion sends a status
            element.pop("Status", None)
    return element
