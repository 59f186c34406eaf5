"""Scenario → Procore commitment change orders, and the claim items that bill them.

Seeded after everything else (ids continue the one sequence, so no other record's id moves):

- the **anchor**: the commitment of the first approved, unplanted claim whose commitment is
  clean (approved, lines, a linked vendor, on an active project at the send stage) gets
  ``CO-001`` **approved** (one line on its first line's cost code, 10% of that line) and
  ``CO-002`` **pending** (one line on its last line's cost code, 5%); that claim bills half of
  ``CO-001``'s line as a ``change_order_item``;
- in bigger datasets, every :data:`EVERY`-th other clean commitment gets one approved change
  order too, and the one after it a draft one (left alone by Trestle).

Every dataset therefore has at least one approved and one pending change order on a commitment
Trestle sends, and one claim billing a change order item.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from ..scenario import SEND_STAGE, Claim, Commitment, Scenario
from .state import ProcoreState, Record, line_record
from .wire import round_money

EVERY = 12  # one clean commitment in EVERY gets an approved change order (besides the anchor)


def seed_change_orders(state: ProcoreState, scenario: Scenario, commitment_ids: dict[str, int]) -> None:
    """Add the change orders (and the claim item billing one) the module docstring describes."""
    clean = [commitment for commitment in scenario.commitments if _clean(scenario, commitment)]
    if not clean:
        return
    anchor_claim = next(
        (claim for claim in scenario.claims if _bills_clean(claim, {c.key for c in clean})),
        None,
    )
    anchor = scenario.commitment(anchor_claim.commitment_key) if anchor_claim else clean[0]
    record = state.commitments[commitment_ids[anchor.key]]
    approved = _add(state, record, 1, "approved", record["line_items"][0], Decimal("0.10"), scenario.now, 3)
    _add(state, record, 2, "pending", record["line_items"][-1], Decimal("0.05"), scenario.now, 2)
    if anchor_claim is not None:
        _bill_change_order(state, anchor_claim, approved)
    others = [commitment for commitment in clean if commitment.key != anchor.key]
    for index, commitment in enumerate(others):
        other = state.commitments[commitment_ids[commitment.key]]
        if index % EVERY == EVERY - 1:
            _add(state, other, 1, "approved", other["line_items"][0], Decimal("0.08"), scenario.now, index % 20 + 4)
        elif index % EVERY == 0 and index:
            _add(state, other, 1, "draft", other["line_items"][0], Decimal("0.04"), scenario.now, index % 20 + 4)


def _clean(scenario: Scenario, commitment: Commitment) -> bool:
    project = scenario.project(commitment.project_key)
    return (
        not commitment.planted
        and bool(commitment.lines)
        and commitment.status == "Approved"
        and project.stage == SEND_STAGE
        and project.active
        and project.number is not None
    )


def _bills_clean(claim: Claim, clean_keys: set[str]) -> bool:
    return claim.status == "approved" and not claim.planted and claim.commitment_key in clean_keys


def _add(
    state: ProcoreState,
    commitment: Record,
    sequence: int,
    status: str,
    based_on: Record,
    share: Decimal,
    now: datetime,
    days_ago: int,
) -> Record:
    stamp = now - timedelta(days=days_ago)
    line = line_record(
        state,
        amount=round_money(based_on["amount"] * share),
        description=f"Variation - {based_on['description']}",
        cost_code_id=based_on["cost_code_id"],
        position=0,
        stamps={"created_at": stamp, "updated_at": stamp},
    )
    record: Record = {
        "id": state.new_id(),
        "project_id": commitment["project_id"],
        "contract_id": commitment["id"],
        "number": f"CO-{sequence:03d}",
        "title": f"Variation {sequence} to {commitment['title']}",
        "status": status,
        "due_date": None,
        "invoiced_date": None,
        "paid_date": None,
        "reviewed_at": stamp if status == "approved" else None,
        "origin_id": None,
        "origin_data": None,
        "deleted_at": None,
        "created_at": stamp,
        "updated_at": stamp,
        "line_items": [line],
    }
    state.change_orders[record["id"]] = record
    return record


def _bill_change_order(state: ProcoreState, claim: Claim, change_order: Record) -> None:
    """The claim bills half of the change order's line this period (a ``change_order_item``)."""
    requisition = next(
        record
        for record in state.requisitions.values()
        if record["commitment_id"] == change_order["contract_id"]
        and record["number"] == claim.number
        and record["invoice_number"] == claim.invoice_number
    )
    line = change_order["line_items"][0]
    requisition["items"].append(
        {
            "id": state.new_id(),
            "item_type": "change_order_item",
            "line_item_id": line["id"],
            "cost_code_id": line["cost_code_id"],
            "work_completed_this_period": round_money(line["amount"] / 2),
            "materials_presently_stored": Decimal("0.00"),
            "work_completed_from_previous_application": Decimal("0.00"),
        }
    )
