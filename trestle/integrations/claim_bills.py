"""Which Xero bills are progress claims Trestle wrote: never direct costs, even before they are linked.

Direct invoices sends Procore the bills a bookkeeper entered in Xero; the bills Trestle itself
wrote from Procore subcontractor invoices (progress claims) must never go back as direct costs, or
the cost is counted twice in the job. A ``progress_claim`` link says so once the write is
committed, but a run killed between Xero's answer and that commit leaves the bill in Xero with no
link yet. This second guard catches it from two other facts that are there before the link is:

- the bill's ``Url`` points at a Procore requisition (progress claims sets it on every bill it
  writes; a bookkeeper's bill points there only if it *is* that claim);
- a progress-claims write intent, pending or done, sent this bill: same supplier (``ContactID``)
  and same ``InvoiceNumber``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from trestle.models.store import LinkStore
from trestle.models.tables import WriteIntent
from trestle.models.xero import Invoice

PROGRESS_CLAIMS = "progress_claims"
REQUISITION_PATH = re.compile(r"/\d+/project/commitments/requisitions/\d+/?$")
"""The path of a Procore requisition page (:meth:`trestle.links.WebLinks.procore_requisition`)."""


def points_at_requisition(url: str | None) -> bool:
    """True when ``url`` is a Procore requisition's page (any host: the web URL setting may change)."""
    if not url:
        return False
    return REQUISITION_PATH.search(url.split("?", 1)[0].split("#", 1)[0]) is not None


class ClaimBills:
    """The progress-claims bills known from write intents, read once per run."""

    def __init__(self, sent: Iterable[tuple[str, str]]) -> None:
        self.sent = {(contact_id, number.casefold()) for contact_id, number in sent if contact_id and number}

    @classmethod
    def from_store(cls, store: LinkStore) -> ClaimBills:
        """Every bill a pending or done progress-claims intent of this pair sent (or is sending)."""
        with store.session() as session:
            payloads = session.scalars(
                select(WriteIntent.payload).where(
                    WriteIntent.pair == store.pair,
                    WriteIntent.integration == PROGRESS_CLAIMS,
                    WriteIntent.status.in_(("pending", "done")),
                )
            ).all()
        return cls(_contact_and_number(payload) for payload in payloads)

    def covers(self, invoice: Invoice) -> bool:
        """True when ``invoice`` is a progress claim's bill: leave it out of direct costs."""
        if points_at_requisition(invoice.url):
            return True
        contact_id = invoice.contact.contact_id if invoice.contact else None
        number = invoice.invoice_number
        return bool(contact_id and number) and (str(contact_id), str(number).casefold()) in self.sent


def _contact_and_number(payload: dict[str, Any] | None) -> tuple[str, str]:
    payload = payload or {}
    contact = payload.get("Contact")
    contact_id = contact.get("ContactID") if isinstance(contact, dict) else None
    return str(contact_id or ""), str(payload.get("InvoiceNumber") or "")
