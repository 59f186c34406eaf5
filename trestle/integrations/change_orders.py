"""Commitment change orders, as the commitments integration reads and writes them.

Not an integration of its own: an approved change order changes its commitment's value, so it
travels on the Xero purchase order written for that commitment, as **added lines** — one per
change order line, tracked to the project and the line's cost code like the commitment's own
lines, its description naming the change order ("CO-001 - Extra slab - <line description>").
Lines rather than an updated total, because that is what Procore's own connector and its peers do
(they append change orders to the order) and because only lines keep job costs right by cost
code: a variation on one cost code raises that cost code's committed cost in Xero, not an
anonymous adjustment.

Which: only change orders whose status is ``approved`` (the status enum of Procore's
commitment change orders: ``draft``, ``pricing``, ``not_pricing``, ``pending``, ``revised``,
``proceeding``, ``not_proceeding``, ``pending_billable``, ``no_charge``, ``approved``,
``rejected``, ``void``); every other status leaves the order as it is.

Reads (:class:`ChangeOrderReader`, one per run):

- per integrated project, one list of the change orders changed since the project's own
  change-order cursor (stream ``change_orders:<project id>``), any status, so an approval (or a
  void) made after the order was written re-maps its commitment;
- per project with a commitment to send, the approved change orders (from that first list when
  it was a full read, else one list filtered on ``approved``), and one show per approved change
  order of a commitment being sent (the list carries no lines).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from trestle.clients.procore import ProcoreClient
from trestle.integrations.xero_documents import SourceLine, reference
from trestle.models.procore import CommitmentChangeOrder

APPROVED = "approved"
STREAM_PREFIX = "change_orders"


def stream_of(project_id: int) -> str:
    """The cursor stream of a project's change orders."""
    return f"{STREAM_PREFIX}:{project_id}"


class ChangeOrderReader:
    """The change orders one run needs, each list and show read at most once."""

    def __init__(self, procore: ProcoreClient) -> None:
        self.procore = procore
        self._approved: dict[int, dict[int, list[CommitmentChangeOrder]]] = {}  # project -> contract -> listed
        self._shown: dict[int, CommitmentChangeOrder] = {}

    def changed(self, project_id: int, since: datetime | None) -> list[CommitmentChangeOrder]:
        """The project's change orders changed since ``since`` (None: all of them), any status."""
        listed = list(self.procore.iter_commitment_change_orders(project_id, updated_since=since))
        if since is None:  # a full read holds every approved one: no second list needed
            self._approved[project_id] = _by_contract(co for co in listed if co.status == APPROVED)
        return listed

    def approved_for(self, project_id: int, contract_id: int) -> list[CommitmentChangeOrder]:
        """The commitment's approved change orders with their lines, oldest first."""
        if project_id not in self._approved:
            listed = self.procore.iter_commitment_change_orders(project_id, status=APPROVED)
            self._approved[project_id] = _by_contract(listed)
        return [self._show(project_id, co) for co in self._approved[project_id].get(contract_id, [])]

    def _show(self, project_id: int, listed: CommitmentChangeOrder) -> CommitmentChangeOrder:
        if listed.id not in self._shown:
            self._shown[listed.id] = self.procore.commitment_change_order(project_id, listed.id)
        return self._shown[listed.id]


def _by_contract(listed: Any) -> dict[int, list[CommitmentChangeOrder]]:
    grouped: dict[int, list[CommitmentChangeOrder]] = {}
    for change_order in sorted(listed, key=lambda co: co.id):
        if change_order.contract_id is not None and change_order.status == APPROVED:
            grouped.setdefault(change_order.contract_id, []).append(change_order)
    return grouped


def source_lines(change_orders: Sequence[CommitmentChangeOrder]) -> list[SourceLine]:
    """The lines the approved change orders add to their commitment's order, in change order order."""
    lines: list[SourceLine] = []
    for change_order in change_orders:
        for line in sorted(change_order.line_items or [], key=lambda ln: (ln.position or 0, ln.id or 0)):
            lines.append(
                SourceLine(
                    description=reference(change_order.number, change_order.title, line.description, limit=4000),
                    amount=line.amount,
                    cost_code_id=line.cost_code_id if line.cost_code_id is not None else _id(line.cost_code),
                    quantity=line.quantity,
                    unit_cost=line.unit_cost,
                    tax_code_id=line.tax_code_id,
                )
            )
    return lines


def arriving(
    change_orders: Sequence[CommitmentChangeOrder], last_written: dict[str, Any] | None
) -> list[CommitmentChangeOrder]:
    """The change orders whose lines the order as last written (``last_written``) did not carry."""
    written = {(line.get("Description"), _line_amount(line)) for line in (last_written or {}).get("LineItems") or []}
    return [
        change_order
        for change_order in change_orders
        if any((line.description, _cents(line.amount)) not in written for line in source_lines([change_order]))
    ]


def total(change_orders: Sequence[CommitmentChangeOrder]) -> Decimal:
    """What the approved change orders add to the commitment."""
    return sum((line.amount or Decimal(0) for co in change_orders for line in co.line_items or []), Decimal(0))


def label(change_orders: Sequence[CommitmentChangeOrder]) -> str:
    """``"CO-001 Extra slab, CO-002 …"``: the change orders named for a review message."""
    return ", ".join(" ".join(part for part in (co.number, co.title) if part) or f"#{co.id}" for co in change_orders)


def _cents(value: Any) -> Decimal | None:
    """An amount to the cent (stored payloads hold amounts as text), for comparing lines."""
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def _line_amount(line: dict[str, Any]) -> Decimal | None:
    """Quantity × UnitAmount of a Xero line as it was written."""
    return _cents(Decimal(str(line.get("Quantity") or 1)) * Decimal(str(line.get("UnitAmount") or 0)))


def _id(ref: Any) -> int | None:
    return getattr(ref, "id", None) if ref is not None else None
