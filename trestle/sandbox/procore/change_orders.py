"""Commitment change orders in the Procore simulator: records, totals, the approval a test makes later.

A change order belongs to one commitment (``contract_id``) and holds schedule-of-values lines
shaped like the commitment's own (amount, cost code, description). Its status is one of the
``change_order_packages[].status`` enum of the commitment show (the extract's description of a
1- and 2-tier change order). Totals: ``approved`` lines count toward the commitment's
``approved_change_orders`` and revised contract, ``pending``/``revised`` toward
``pending_change_orders`` ("Total of all pending and revised change orders"), ``draft`` toward
``draft_change_orders_amount``.

Rendering (:mod:`.routes_change_orders`): the list record is the package item's attributes; show
adds ``line_items`` (:data:`trestle.sandbox.procore.spec.CHANGE_ORDER_SHOW`, docs/FIDELITY.md).
"""

from __future__ import annotations

from decimal import Decimal

from .state import ApiError, ProcoreState, Record, not_found

ZERO = Decimal("0.00")
#: ``change_order_packages[].status`` in the commitment show (the list's filter adds ``pending_billable``).
STATUSES = (
    "draft", "not_pricing", "pricing", "pending", "revised", "proceeding", "not_proceeding", "no_charge",
    "approved", "rejected", "void",
)  # fmt: skip
PENDING_STATUSES = frozenset({"pending", "revised"})
LIST_FIELDS = (
    "id", "contract_id", "number", "title", "status", "due_date", "invoiced_date", "paid_date", "reviewed_at",
    "origin_id", "origin_data", "deleted_at", "created_at", "updated_at",
)  # fmt: skip


def change_order_total(record: Record) -> Decimal:
    """What a change order adds to its commitment: the sum of its lines."""
    return sum((line["amount"] or ZERO for line in record["line_items"]), ZERO)


def of_commitment(state: ProcoreState, commitment_id: int) -> list[Record]:
    """The live change orders of one commitment, oldest first."""
    return [
        record
        for record in sorted(state.change_orders.values(), key=lambda record: record["id"])
        if record["contract_id"] == commitment_id and record.get("deleted_at") is None
    ]


def of_project(state: ProcoreState, project_id: int) -> list[Record]:
    """The live change orders of every commitment of one project, oldest first."""
    return [
        record
        for record in sorted(state.change_orders.values(), key=lambda record: record["id"])
        if record["project_id"] == project_id and record.get("deleted_at") is None
    ]


def find(state: ProcoreState, project_id: int, change_order_id: int) -> Record:
    """A live change order of ``project_id`` or a 404."""
    record = state.change_orders.get(change_order_id)
    if record is None or record["project_id"] != project_id or record.get("deleted_at") is not None:
        raise not_found("Commitment Change Order")
    return record


def totals(state: ProcoreState, commitment_id: int) -> dict[str, Decimal]:
    """The commitment's change order totals by kind: approved, pending (and revised), draft."""
    sums = {"approved": ZERO, "pending": ZERO, "draft": ZERO}
    for record in of_commitment(state, commitment_id):
        status = record["status"]
        kind = "pending" if status in PENDING_STATUSES else status
        if kind in sums:
            sums[kind] += change_order_total(record)
    return sums


def lines_by_id(state: ProcoreState, commitment_id: int) -> dict[int, Record]:
    """Every line of the commitment's change orders by line id (what invoice items bill against)."""
    return {line["id"]: line for record in of_commitment(state, commitment_id) for line in record["line_items"]}


def set_status(state: ProcoreState, change_order_id: int, status: str) -> Record:
    """Move a change order to ``status`` as a reviewer in Procore would (stamps ``updated_at``).

    Approving stamps ``reviewed_at`` too. The commitment itself is not touched: its own
    ``updated_at`` stays, so a client must read change orders to see the approval.
    """
    if status not in STATUSES:
        raise ApiError(400, f"status must be one of {', '.join(STATUSES)}")
    record = state.change_orders.get(change_order_id)
    if record is None:
        raise not_found("Commitment Change Order")
    now = state.now()
    record["status"] = status
    record["updated_at"] = now
    if status == "approved":
        record["reviewed_at"] = now
    return record


def approve(state: ProcoreState, change_order_id: int) -> Record:
    """Approve a change order now (tests: "the change order was approved after the order was written")."""
    return set_status(state, change_order_id, "approved")
