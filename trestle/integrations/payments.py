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
still exists; with ``sync.payments_delete_removed`` the Procore payment is deleted instead.

Skipped with an issue: the bill's contact is not linked to a Procore vendor; the claim (or its
commitment) cannot be found in Procore; the amount is more than is still open on the commitment
(contract value less payments issued, counting the ones sent earlier in the run).

Procore's ``POST /contract_payments`` has no idempotency key, so writes go one at a time and
:meth:`PaymentsIntegration.recover` lists the commitment's payments and matches ``origin_id``
before resending anything.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import suppress
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from trestle.clients.errors import FatalApiError, NotFoundError
from trestle.clients.procore import CommitmentKind
from trestle.integrations.lookups import PAYMENT, PROGRESS_CLAIM, Lookups, money
from trestle.models.procore import Commitment, Requisition
from trestle.models.store import LinkRow, PendingIntent
from trestle.models.xero import Invoice, Payment
from trestle.tasks.engine import Integration, Page, Record, WriteItem, WriteResult

__all__ = ["PaymentsIntegration", "cost_share"]

PAGE_SIZE = 200
PAYMENT_METHOD = "electronic"
DELETED = "DELETED"
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
    issue_fixes = {
        "payment.vendor_not_linked": "Link the bill's Xero contact to its Procore vendor (add it to the Procore "
        "contact group); the next run sends the payment.",
        "payment.invoice_not_found": "The subcontractor invoice behind this bill is no longer in a linked Procore "
        "project (deleted, or the project left the 'Send to Xero' stage). Record the payment in Procore by hand.",
        "payment.exceeds_commitment": "The payment is more than is still open on the commitment in Procore: add the "
        "missing change order in Procore (or correct the payment in Xero) and the next run sends it.",
        "payment.deleted_in_xero": "Delete the payment in Procore (Commitments → Payments Issued) or set "
        "TRESTLE_SYNC_PAYMENTS_DELETE_REMOVED=true to let Trestle remove it.",
        "payment.write_rejected": "Correct what Procore's message names; the next run retries.",
        "payment.target_already_linked": "Two Xero payments point at the same Procore payment; contact support.",
    }
    issue_meanings = {
        "payment.vendor_not_linked": "The bill's supplier is not linked to a Procore vendor.",
        "payment.invoice_not_found": "The claim or commitment the bill came from is gone from Procore.",
        "payment.exceeds_commitment": "The payment is more than is still open on the commitment.",
        "payment.deleted_in_xero": "The payment was deleted in Xero; the Procore payment remains.",
        "payment.write_rejected": "Procore refused the payment; its message says why.",
        "payment.target_already_linked": "Another Xero payment is already linked to the same Procore payment.",
    }

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
        for bill in self.ctx.xero.get_invoices(wanted):
            self.bills[bill.invoice_id or ""] = bill
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
            if not self.ctx.settings.sync.payments_delete_removed and self._still_in_procore(sent):
                record.flag(
                    "payment.deleted_in_xero",
                    f"The payment of {money(payment.amount)} was deleted in Xero but is still recorded in Procore.",
                    amount=money(payment.amount),
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
        bill, requisition, commitment = record.target
        include_tax = self.ctx.settings.sync.payments_include_tax
        amount = money(payment.amount) if include_tax else cost_share(payment.amount or 0, bill.sub_total, bill.total)
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
                existing = next(
                    (
                        sent
                        for sent in self.ctx.procore.contract_payments(project_id, contract_id)
                        if sent.origin_id == intent.source_id
                    ),
                    None,
                )
                if existing is not None:
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
