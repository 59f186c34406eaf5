"""Progress claims: claims whose Xero document or Procore claim was deleted.

Deleted records (``sync.on_deleted.progress_claims``, see :mod:`trestle.tasks.deleted`): a bill or
credit note VOIDED or DELETED in Xero is reported (``progress_claim.deleted_in_xero``) or, with
``recreate``, written again once. A linked claim no longer in Procore is reported
(``progress_claim.deleted_in_procore``) or, with ``propagate``, its DRAFT or SUBMITTED document
without payments is set DELETED in Xero; any other document is ``progress_claim.bill_not_deletable``.
Found each run with one Xero list call per document kind (VOIDED/DELETED since the last check) and,
in Procore, from the projects' lists of the night (no call of its own).

Part of :mod:`trestle.integrations.progress_claims` (a helper module: it declares no integration).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from trestle.batching import chunked
from trestle.integrations.lookups import Lookups
from trestle.integrations.progress_claim_lines import BILL, CREDIT_NOTE
from trestle.models.links import LinkRow
from trestle.models.xero import CreditNote, Invoice
from trestle.tasks.deleted import SourceGone
from trestle.tasks.engine import Integration, Record
from trestle.webhooks.feed import projects_to_read

CREDIT_NOTE_QUERY_CHUNK = 25
GONE_STATUSES = ("VOIDED", "DELETED")
DELETABLE_STATUSES = ("DRAFT", "SUBMITTED")


class ClaimDeletions(Integration):
    """Finding deleted claims and documents, and what a propagated deletion writes."""

    lookups: Lookups
    current_docs: dict[str, Invoice | CreditNote]
    doc_types: dict[str, str]
    gone_links: dict[str, LinkRow]
    deletion_found: set[str]

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
