"""Payments: payments made in Xero on bills Trestle wrote for progress claims → Procore contract payments.

Picked up: Xero payments changed since the cursor (``GET /Payments`` with ``If-Modified-Since``) whose
bill is linked to a Procore subcontractor invoice (a ``progress_claim`` link to an ``ACCPAY`` bill).
Payments on other bills, and refunds on supplier credit notes, are not Procore contract payments
and are ignored. Each Xero payment becomes its own Procore payment on the claim's commitment, so
a bill paid in three parts shows three payments issued:

- date = the payment date, invoice number and invoice date = the bill's, ``requisition_id`` = the
  claim, ``payment_number`` = the payment's position among the bill's payments by date (1, 2, …),
  ``payment_method`` = ``electronic`` (Xero does not say how a bill was paid), notes = the Xero
  payment reference, ``origin_id`` = the Xero PaymentID (Procore then locks the payment).
- amount = the cost only: payment × bill SubTotal / bill Total, half-up to the cent, because
  Procore tracks the commitment excluding tax; with ``sync.payments_include_tax`` the whole
  payment. A bill without tax (or a NoTax bill) sends the whole payment either way.

Xero payments cannot be edited, only deleted, so a payment already sent is never sent again. A
payment deleted in Xero is reported as ``payment.deleted_in_xero`` while its Procore payment
still exists; with ``sync.on_deleted.payments = "propagate"`` (or the older
``sync.payments_delete_removed``) the Procore payment is deleted instead (:mod:`trestle.tasks.deleted`).

Skipped with an issue: the bill's contact is not linked to a Procore vendor; the claim (or its
commitment) cannot be found in Procore; the amount is more than is still open on the commitment
(contract value less payments issued, counting the ones sent earlier in the run).

Procore's ``POST /contract_payments`` has no idempotency key, so writes go one at a time and
:meth:`PaymentsIntegration.recover` lists the commitment's payments and matches ``origin_id``
before resending anything. A ``409`` to a POST (the sandbox refuses a second payment with the same
``origin_id``; nothing says real Procore does, so recovery never relies on it) means the payment
exists: it is looked up by ``origin_id`` and linked, not reported failed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import suppress
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from trestle.clients.errors import ConflictError, FatalApiError, NotFoundError
from trestle.clients.procore_commitments import CommitmentKind
from trestle.integrations.lookups import PAYMENT, PROGRESS_CLAIM, Lookups, money
from trestle.models.intents import PendingIntent
from trestle.models.links import LinkRow
from trestle.models.procore import Commitment, ContractPayment, Requisition
from trestle.models.xero import Invoice, Payment
from trestle.tasks.declaration import FieldMap, IssueCode, Schedule
from trestle.tasks.deleted import policy_of
from trestle.tasks.engine import Integration, Page, Record, WriteItem, WriteResult

__all__ = ["PaymentsIntegration", "cost_share"]

PAGE_SIZE = 200
PAYMENT_METHOD = "electronic"
DELETED = "DELETED"
AUTHORISED = "AUTHORISED"  # with DELETED, the payment statuses Xero documents
_COMMITMENT_KINDS: tuple[CommitmentKind, ...] = ("work_order", "purchase_order")


def cost_share(amount: Decimal, sub_total: Decimal | None, total: Decimal | None) -> Decimal:
    """The part of a payment that pays the bill's cost: amount × SubTotal / Total, to the cent."""
    if not total or sub_total is None or sub_total == total:
        return money(amount)
    return money(Decimal(amount) * Decimal(sub_total) / Decimal(total))


class PaymentsIntegration(Integration):
    name = "payments"
    title = "Payments"
    entity = PAYMENT
    source_system = "xero"
    target_system = "procore"
    write_batch_size = 1  # POST /contract_payments takes one payment and has no idempotency key
    summary = "Xero payments on bills from Procore claims → Procore contract payments."
    depends_on = ("progress_claims",)
    per_project = True
    on_deleted = ("report", "propagate")
    schedule = Schedule("15 * * * *", "hourly", "every hour at :15")
    picked_up = (
        "Xero payments changed since the last run (`GET /Payments`, `If-Modified-Since`) on bills that came from "
        "Procore claims. Each Xero payment becomes its own Procore payment on the claim's commitment (a bill paid "
        "in three parts shows three payments)."
    )
    notes = (
        (
            "Written",
            "A payment deleted in Xero is reported; with `TRESTLE_SYNC_ON_DELETED_PAYMENTS=propagate` (or "
            "`TRESTLE_SYNC_PAYMENTS_DELETE_REMOVED`) the Procore payment is deleted. Procore's payment endpoint "
            "has no idempotency key: a lost answer is finished by finding "
            "the payment by `origin_id` before anything is resent.",
        ),
    )
    mapping = (
        FieldMap("date", "the payment date"),
        FieldMap("invoice_number, invoice_date", "the bill's"),
        FieldMap("contract_id, requisition_id", "the commitment and claim behind the bill"),
        FieldMap("payment_number", "the payment's position among the bill's payments (1, 2, …)"),
        FieldMap("payment_method", "`electronic`"),
        FieldMap("notes", "`Paid in Xero: <Reference>` (`Paid in Xero` when the payment has no reference)"),
        FieldMap("origin_id", "PaymentID"),
        FieldMap(
            "amount",
            "the cost only (payment × SubTotal ÷ Total, to the cent), or the whole payment with "
            "`TRESTLE_SYNC_PAYMENTS_INCLUDE_TAX`",
        ),
    )
    settings_used = ("payments_include_tax", "payments_delete_removed", "overlap_minutes")
    issues = (
        IssueCode(
            "payment.vendor_not_linked",
            "the bill's contact is not linked to a Procore vendor",
            "Link the bill's Xero contact to its Procore vendor (add it to the Procore contact group); the next "
            "run sends the payment.",
        ),
        IssueCode(
            "payment.invoice_not_found",
            "the claim or its commitment is gone from Procore",
            "The subcontractor invoice behind this bill is no longer in a linked Procore project (deleted, or the "
            "project left the 'Send to Xero' stage). Record the payment in Procore by hand.",
        ),
        IssueCode(
            "payment.exceeds_commitment",
            "more than is still open on the commitment",
            "The payment is more than is still open on the commitment in Procore: add the missing change order in "
            "Procore (or correct the payment in Xero) and the next run sends it.",
        ),
        IssueCode(
            "payment.not_positive",
            "the payment (or its cost share) comes to 0.00 or less",
            "Xero records payments above zero; a payment of nothing (or a cost share that rounds to 0.00) is "
            "not sent. Correct or delete the payment in Xero if it is a mistake; otherwise nothing is needed.",
        ),
        IssueCode(
            "payment.deleted_in_xero",
            "the Xero payment was deleted; the Procore payment remains",
            "Delete the payment in Procore (Commitments → Payments Issued) or set "
            "TRESTLE_SYNC_ON_DELETED_PAYMENTS=propagate ([sync.on_deleted] payments) to let Trestle remove it.",
        ),
        IssueCode(
            "payment.unknown_status",
            "Xero sent a payment status Trestle does not know (neither AUTHORISED nor DELETED)",
            "Nothing is sent to Procore for a payment whose status Trestle cannot read as made or deleted. If Xero "
            "has added a status, report it so Trestle learns it; the payment is read again every run.",
        ),
        IssueCode(
            "payment.write_rejected",
            "Procore refused the payment (message shown)",
            "Correct what Procore's message names; the next run retries.",
        ),
        IssueCode(
            "payment.target_already_linked",
            "another Xero payment is already linked to that Procore payment",
            "Two Xero payments point at the same Procore payment; contact support.",
        ),
    )

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.lookups = Lookups.of(ctx)
        self.bills: dict[str, Invoice] = {}
        self.requisitions: dict[str, Requisition] | None = None
        self.commitments: dict[int, Commitment] = {}
        self.projects_read: set[int] = set()
        self.open_amounts: dict[int, Decimal] = {}  # commitment id -> still open, less payments sent this run
        self.payment_projects: dict[str, int] = {}  # Procore payment id -> project id (for links)
        self.procore_payments: dict[tuple[int, int], set[str]] = {}  # (project, commitment) -> payment ids

    # ------------------------------------------------------------------ fetch
    def fetch(self, since: datetime | None) -> Iterator[Page]:
        batch: list[Payment] = []
        high_water: datetime | None = None
        for payment in self.ctx.xero.iter_payments(modified_since=since):
            if payment.updated_date_utc and (high_water is None or payment.updated_date_utc > high_water):
                high_water = payment.updated_date_utc
            if self._wanted(payment):
                batch.append(payment)
            if len(batch) >= PAGE_SIZE:
                yield Page(self._records(batch))
                batch = []
        yield Page(self._records(batch), high_water=high_water)

    def fetch_by_ids(self, ids: Sequence[str]) -> list[Record]:
        where = " OR ".join(f'PaymentID==Guid("{payment_id}")' for payment_id in ids)
        found = [payment for payment in self.ctx.xero.iter_payments(where=where) if self._wanted(payment)]
        return self._records(found)

    def _wanted(self, payment: Payment) -> bool:
        """A payment on a bill written for a progress claim (deleted ones only if they were sent)."""
        invoice_id = payment.invoice.invoice_id if payment.invoice else None
        link = self.lookups.procore_record_for(PROGRESS_CLAIM, invoice_id) if invoice_id else None
        if link is None or (link.last_payload or {}).get("Type", "ACCPAY") != "ACCPAY":
            return False
        if payment.status == DELETED:  # a deletion matters only if the payment reached Procore
            return self.lookups.procore_record_for(PAYMENT, payment.payment_id or "") is not None
        return True

    def _records(self, payments: list[Payment]) -> list[Record]:
        """Records for a page, after reading the page's bills in batches of 50."""
        wanted = sorted(
            {p.invoice.invoice_id for p in payments if p.invoice and p.invoice.invoice_id} - set(self.bills)
        )
        for fetched in self.ctx.xero.get_invoices(wanted):
            self.bills[fetched.invoice_id or ""] = fetched
        records = []
        for payment in payments:
            bill = self.bills.get(payment.invoice.invoice_id or "") if payment.invoice else None
            number = (bill.invoice_number if bill else None) or (
                payment.invoice.invoice_number if payment.invoice else ""
            )
            who = bill.contact.name if bill and bill.contact else ""
            label = f"{money(payment.amount)} on {number} · {who}".strip(" ·")
            records.append(Record(payment.payment_id or "", label, payment, updated_at=payment.updated_date_utc))
        return records

    # ------------------------------------------------------------ Procore side
    def _requisition(self, invoice_id: str) -> Requisition | None:
        """The subcontractor invoice a bill came from (claims of linked projects read once per run)."""
        link = self.lookups.procore_record_for(PROGRESS_CLAIM, invoice_id)
        if link is None:
            return None
        if self.requisitions is None:
            self.requisitions = {
                str(requisition.id): requisition
                for project_id in self.lookups.integrated_project_ids()
                for requisition in self.ctx.procore.iter_requisitions(project_id)
            }
        return self.requisitions.get(link.procore_id)

    def _commitment(self, project_id: int, commitment_id: int) -> Commitment | None:
        """A commitment of a project (both kinds listed once per project per run)."""
        if project_id not in self.projects_read:
            for kind in _COMMITMENT_KINDS:
                for commitment in self.ctx.procore.iter_commitments(kind, project_id):
                    self.commitments[commitment.id] = commitment
            self.projects_read.add(project_id)
        return self.commitments.get(commitment_id)

    def _open_on(self, commitment: Commitment) -> Decimal:
        """What is still open on a commitment: its value less the payments issued so far."""
        if commitment.id not in self.open_amounts:
            contract = (
                commitment.revised_contract if commitment.revised_contract is not None else commitment.grand_total
            )
            self.open_amounts[commitment.id] = money(contract) - money(commitment.total_payments)
        return self.open_amounts[commitment.id]

    def _still_in_procore(self, link: LinkRow) -> bool:
        """Whether the Procore payment a link points at still exists (one list call per commitment)."""
        sent = link.last_payload or {}
        key = (int(sent.get("project_id") or 0), int(sent.get("contract_id") or 0))
        if key not in self.procore_payments:
            self.procore_payments[key] = {str(p.id) for p in self.ctx.procore.contract_payments(*key)}
        return link.procore_id in self.procore_payments[key]

    # --------------------------------------------------------------- validate
    def validate(self, record: Record) -> None:
        payment: Payment = record.data
        sent = self.lookups.procore_record_for(PAYMENT, record.id)
        if sent is not None and payment.status != DELETED:
            return  # already in Procore; Xero payments cannot change
        if sent is not None:
            if policy_of(type(self), self.ctx.settings.sync) != "propagate" and self._still_in_procore(sent):
                record.flag(
                    "payment.deleted_in_xero",
                    f"The payment of {money(payment.amount)} was deleted in Xero but is still recorded in Procore.",
                    amount=money(payment.amount),
                )
            return
        if payment.status != AUTHORISED:  # a status Xero may add: never read as a payment made
            record.flag(
                "payment.unknown_status",
                f"Xero sent the payment with status '{payment.status or '(none)'}', which Trestle does not know, "
                "so it was not sent to Procore.",
                status=payment.status,
            )
            return
        bill = self.bills.get(payment.invoice.invoice_id or "") if payment.invoice else None
        contact_id = bill.contact.contact_id if bill and bill.contact else None
        if self.lookups.vendor_for_contact(contact_id) is None:
            record.flag(
                "payment.vendor_not_linked",
                f"The bill's contact '{bill.contact.name if bill and bill.contact else contact_id}' is not linked to "
                "a Procore vendor, so the payment was not sent.",
                contact_id=contact_id,
            )
            return
        requisition = self._requisition(payment.invoice.invoice_id or "") if payment.invoice else None
        commitment = (
            self._commitment(requisition.project_id or 0, requisition.commitment_id or 0) if requisition else None
        )
        if bill is None or requisition is None or commitment is None:
            record.flag(
                "payment.invoice_not_found",
                "The Procore subcontractor invoice (or its commitment) this bill came from could not be found, "
                "so the payment was not sent.",
                invoice_id=payment.invoice.invoice_id if payment.invoice else None,
            )
            return
        record.target = (bill, requisition, commitment)
        record.url = self.ctx.links.xero_bill(bill.invoice_id or "")

    # -------------------------------------------------------------------- map
    def map(self, record: Record) -> dict[str, Any]:
        payment: Payment = record.data
        if record.link is not None:
            # Xero payments are immutable: what was sent stays; only a deletion changes anything.
            sent = dict(record.link.last_payload or {})
            if payment.status == DELETED:
                return {"project_id": sent.get("project_id"), "contract_id": sent.get("contract_id"), "deleted": True}
            return sent
        if record.target is None:  # validated as sent, yet no link: never send it blind
            record.flag(
                "payment.invoice_not_found",
                "The payment looked already sent but has no link; it was not sent again.",
                invoice_id=payment.invoice.invoice_id if payment.invoice else None,
            )
            return {}
        bill, requisition, commitment = record.target
        include_tax = self.ctx.settings.sync.payments_include_tax
        amount = (
            money(payment.amount)
            if include_tax
            else cost_share(payment.amount or Decimal(0), bill.sub_total, bill.total)
        )
        if amount <= 0:
            record.flag(
                "payment.not_positive",
                f"The payment of {money(payment.amount)} comes to {amount} for Procore, so it was not sent.",
                amount=amount,
            )
            return {}
        open_amount = self._open_on(commitment)
        if amount > open_amount:
            record.flag(
                "payment.exceeds_commitment",
                f"The payment of {amount} is more than the {open_amount} still open on commitment "
                f"{commitment.number or commitment.id}.",
                amount=amount,
                open=open_amount,
                commitment=commitment.number,
            )
            return {}
        self.open_amounts[commitment.id] = open_amount - amount
        body = {
            "date": payment.date,
            "amount": amount,
            "invoice_number": bill.invoice_number,
            "invoice_date": bill.date,
            "payment_number": _position(payment, bill),
            "payment_method": PAYMENT_METHOD,
            "requisition_id": requisition.id,
            "notes": f"Paid in Xero: {payment.reference}" if payment.reference else "Paid in Xero",
            "origin_id": payment.payment_id,
        }
        return {
            "project_id": requisition.project_id,
            "contract_id": commitment.id,
            "contract_payment": {key: value for key, value in body.items() if value is not None},
        }

    # ------------------------------------------------------------------ write
    def write(self, items: list[WriteItem], batch_key: str) -> list[WriteResult]:
        return [self._write_one(item) for item in items]

    def _write_one(self, item: WriteItem) -> WriteResult:
        payload = item.payload
        project_id, contract_id = int(payload["project_id"]), int(payload["contract_id"])
        try:
            if payload.get("deleted"):
                with suppress(NotFoundError):  # already gone: by hand, or an earlier attempt whose answer was lost
                    # A synced payment is locked; clearing its origin_id is the one change Procore allows.
                    self.ctx.procore.unlink_contract_payment(project_id, contract_id, int(item.target_id or 0))
                    self.ctx.procore.delete_contract_payment(project_id, contract_id, int(item.target_id or 0))
                return WriteResult(item.source_id, ok=True, target_id=item.target_id)
            created = self.ctx.procore.create_contract_payment(project_id, contract_id, payload["contract_payment"])
        except ConflictError as exc:  # "origin_id has already been taken": it exists, so link it
            existing = None if payload.get("deleted") else self._sent_payment(project_id, contract_id, item.source_id)
            if existing is None:
                return WriteResult(item.source_id, ok=False, error=exc.message)
            created = existing
        except FatalApiError as exc:
            return WriteResult(item.source_id, ok=False, error=exc.message)
        self.payment_projects[str(created.id)] = project_id
        return WriteResult(item.source_id, ok=True, target_id=str(created.id))

    def recover(self, intents: list[PendingIntent]) -> list[WriteResult]:
        """Look for a payment the lost POST did create (by ``origin_id``) before sending it again."""
        results = []
        for intent in intents:
            payload = intent.payload
            project_id, contract_id = int(payload["project_id"]), int(payload["contract_id"])
            if not payload.get("deleted"):  # a deletion is safe to repeat: a payment already gone is fine
                existing = self._sent_payment(project_id, contract_id, intent.source_id)
                if existing is not None:
                    self.payment_projects[str(existing.id)] = project_id
                    results.append(WriteResult(intent.source_id, ok=True, target_id=str(existing.id)))
                    continue
            item = WriteItem(
                source_id=intent.source_id,
                operation="update" if intent.operation == "update" else "create",
                target_id=intent.target_id,
                payload=payload,
                idempotency_key=intent.idempotency_key,
                label=intent.label,
            )
            results.append(self._write_one(item))
        return results

    def _sent_payment(self, project_id: int, contract_id: int, payment_id: str) -> ContractPayment | None:
        """The Procore payment on the commitment whose ``origin_id`` is this Xero payment, if any."""
        payments = self.ctx.procore.contract_payments(project_id, contract_id)
        return next((sent for sent in payments if sent.origin_id == payment_id), None)

    def source_url(self, record: Record) -> str | None:
        payment: Payment = record.data
        if payment is not None and payment.invoice and payment.invoice.invoice_id:
            return self.ctx.links.xero_bill(payment.invoice.invoice_id)
        return record.url

    def target_url(self, target_id: str) -> str | None:
        if not self.payment_projects:
            for link in self.lookups.links(PAYMENT):
                if (project_id := (link.last_payload or {}).get("project_id")) is not None:
                    self.payment_projects[link.procore_id] = int(project_id)
        project_id = self.payment_projects.get(target_id)
        return self.ctx.links.procore_contract_payment(project_id, target_id) if project_id else None


def _position(payment: Payment, bill: Invoice) -> int:
    """1 for the bill's first payment by date, 2 for the second, … (Xero's order breaks ties)."""
    payments = list(bill.payments or [])
    if all(p.payment_id != payment.payment_id for p in payments):
        payments.append(payment)
    ordered = sorted(payments, key=lambda p: p.date or date.max)  # stable: same-day payments keep Xero's order
    return 1 + next(index for index, p in enumerate(ordered) if p.payment_id == payment.payment_id)
