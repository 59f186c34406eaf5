"""Commitments: what a written purchase order allows to change, and one deleted in Xero.

Part of :mod:`trestle.integrations.commitments` (a helper module: it declares no integration).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from trestle.integrations import change_orders
from trestle.integrations.commitment_fetch import CommitmentSource
from trestle.tasks.engine import Integration, Record

DELETED = "DELETED"
UNCHANGEABLE_PO_STATUSES = ("AUTHORISED", "BILLED")  # a cancelled commitment does not delete these
CLOSED_PO_STATUSES = ("BILLED", "DELETED")  # a change order does not reach these


class CommitmentUpdates(Integration):
    """Refusing changes a purchase order's Xero status does not allow, and noticing one deleted there."""

    _po_statuses: dict[str, set[str]]  # Xero status -> purchase order ids, read when needed

    if TYPE_CHECKING:

        def _flag(self, record: Record, code: str, message: str, **details: Any) -> None: ...

    def check_update(self, record: Record) -> None:
        source: CommitmentSource = record.data
        target = record.target_id or ""
        payload = record.payload or {}
        if payload.get("Status") == DELETED:
            status = self._po_status(target, UNCHANGEABLE_PO_STATUSES)
            if status is not None:
                self._flag(
                    record,
                    "commitment.cancelled_po_approved",
                    f"The {source.kind_label} is {source.commitment.status} in Procore, but its Xero purchase order "
                    f"is {status}, so Trestle did not delete it.",
                    po_status=status,
                )
            return
        arriving = change_orders.arriving(source.change_orders, record.link.last_payload if record.link else None)
        status = self._po_status(target, CLOSED_PO_STATUSES if arriving else ("BILLED",))
        if arriving and status is not None:
            self._flag(
                record,
                "commitment.change_order_on_billed_order",
                f"Change order(s) {change_orders.label(arriving)} were approved in Procore, but the "
                f"{source.kind_label}'s Xero purchase order is {status}, so they were not added to it.",
                po_status=status,
                change_orders=[co.id for co in arriving],
            )
        elif status == "BILLED":
            self._flag(
                record,
                "commitment.po_billed",
                "The commitment changed in Procore, but its Xero purchase order is BILLED, so it was not updated.",
                changes=[change.field for change in record.changes],
            )

    def _po_status(self, purchase_order_id: str, statuses: Sequence[str]) -> str | None:
        """Which of ``statuses`` the purchase order has in Xero, if any (each status's list read once per run)."""
        for status in statuses:
            if status not in self._po_statuses:
                self._po_statuses[status] = {
                    order.purchase_order_id
                    for order in self.ctx.xero.iter_purchase_orders(status=status)
                    if order.purchase_order_id
                }
            if purchase_order_id in self._po_statuses[status]:
                return status
        return None

    def target_gone(self, record: Record) -> str | None:
        """DELETED when the linked purchase order was deleted in Xero by someone else, checked only when
        the commitment changed (one list call per run, made the first time one is)."""
        if record.link is None or record.link.fingerprint == record.fingerprint:
            return None  # nothing to send: whatever happened to the order in Xero stands
        if (record.link.last_payload or {}).get("Status") == DELETED:
            return None  # Trestle deleted it (a cancelled commitment)
        return self._po_status(record.target_id or "", (DELETED,))
