"""Progress claims: re-checks of claims with open issues, and updates to their written documents.

Part of :mod:`trestle.integrations.progress_claims` (a helper module: it declares no integration).
"""

from __future__ import annotations

from collections.abc import Sequence

from trestle.batching import chunked
from trestle.integrations import recheck
from trestle.integrations.lookups import COST_CODE, Lookups
from trestle.integrations.progress_claim_deletions import CREDIT_NOTE_QUERY_CHUNK
from trestle.integrations.progress_claim_lines import BILL, CREDIT_NOTE
from trestle.integrations.recheck import links_stamp, record_only, still_unlinked, to_recheck, unchanged_stamp
from trestle.models.xero import CreditNote, Invoice
from trestle.tasks.engine import Integration, Record


class ClaimUpdates(Integration):
    """Which claims with open issues are re-read, and what a linked document allows to change."""

    lookups: Lookups
    current_docs: dict[str, Invoice | CreditNote]
    doc_types: dict[str, str]
    deletion_found: set[str]

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
