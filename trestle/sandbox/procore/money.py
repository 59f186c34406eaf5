"""Money records and maths: direct costs, contract payments, subcontractor invoices, commitment totals.

Subcontractor invoice maths (per item): gross = work completed this period + materials presently
stored; retainage = gross × the commitment's retainage percent / 100, rounded half-up to the cent;
net = gross − retainage. The summary adds the items up for this invoice alone
(``current_payment_due`` = Σ net, ``total_retainage`` = Σ retainage,
``total_completed_and_stored_to_date`` = Σ gross); earlier invoices are not carried forward.
Negative claims are allowed and follow the same maths.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from . import change_orders
from .fields import add_error, coerce
from .rules import (
    DIRECT_COST_SPEC,
    DIRECT_COST_STATUSES,
    DIRECT_COST_TYPES,
    LOCKED_REQUISITION_STATUSES,
    ORIGIN_FIELDS,
    PAYMENT_METHODS,
    PAYMENT_SPEC,
    REQUISITION_SPEC,
    REQUISITION_STATUSES,
    check_enum,
    check_locked,
    check_vendor,
    finish,
    line_values,
    raise_if,
)
from .state import ProcoreState, Record, ValidationFailed
from .wire import round_money

ZERO = Decimal("0.00")

# -- direct costs -----------------------------------------------------------------------------


def _direct_cost_values(state: ProcoreState, attrs: dict[str, Any], record: Record | None) -> dict[str, Any]:
    values, errors = coerce(attrs, DIRECT_COST_SPEC)
    if record is None:
        for name in ("invoice_number", "vendor_id", "direct_cost_type"):
            if values.get(name) in (None, ""):
                add_error(errors, name, "can't be blank")
    check_enum(errors, values, "direct_cost_type", DIRECT_COST_TYPES)
    check_enum(errors, values, "status", DIRECT_COST_STATUSES)
    check_vendor(state, values.get("vendor_id"), errors)
    raise_if(errors)
    if record is not None and record.get("origin_id"):
        check_locked(record, values, "direct cost")
    state.check_origin_free(state.direct_costs, values.get("origin_id"), record["id"] if record else None)
    return values


def create_direct_cost(
    state: ProcoreState, project_id: int, attrs: dict[str, Any], line_items: list[dict[str, Any]]
) -> Record:
    """A new direct cost with its lines (all validated before anything is stored)."""
    values = _direct_cost_values(state, attrs, None)
    lines: list[dict[str, Any]] = []
    line_errors: dict[str, list[str]] = {}
    for index, attrs_line in enumerate(line_items):
        try:
            lines.append(line_values(state, project_id, attrs_line))
        except ValidationFailed as exc:
            for name, messages in exc.errors.items():
                line_errors.setdefault(f"line_items[{index}].{name}", []).extend(messages)
    raise_if(line_errors)
    record: Record = {key: None for key in DIRECT_COST_SPEC}
    record.update(id=state.new_id(), project_id=project_id, status="draft", deleted_at=None, line_items=[])
    finish(record, values, state, creating=True)
    for position, values_of_line in enumerate(lines):
        line: Record = {"id": state.new_id(), "amount": ZERO, "extended_type": "manual", "position": position}
        record["line_items"].append(finish(line, values_of_line, state, creating=True))
    state.direct_costs[record["id"]] = record
    return record


def update_direct_cost(state: ProcoreState, record: Record, attrs: dict[str, Any]) -> Record:
    """Change a direct cost (only origin fields once its origin_id is set)."""
    return finish(record, _direct_cost_values(state, attrs, record), state, creating=False)


def delete_direct_cost(state: ProcoreState, record: Record) -> None:
    """Soft-delete a direct cost; a synced one (origin_id set) is locked and refused."""
    if record.get("origin_id"):
        raise ValidationFailed({"base": ["The direct cost is synced to an ERP (origin_id is set)"]})
    finish(record, {"deleted_at": state.now()}, state, creating=False)


def direct_cost_total(record: Record) -> Decimal:
    """A direct cost's grand total: the sum of its lines."""
    return sum((line["amount"] or ZERO for line in record["line_items"]), ZERO)


# -- contract payments ------------------------------------------------------------------------


def _payment_values(
    state: ProcoreState, commitment: Record, attrs: dict[str, Any], record: Record | None
) -> dict[str, Any]:
    values, errors = coerce(attrs, PAYMENT_SPEC)
    if record is None:
        for name in ("date", "amount"):
            if values.get(name) is None:
                add_error(errors, name, "can't be blank")
    check_enum(errors, values, "payment_method", PAYMENT_METHODS)
    requisition_id = values.get("requisition_id")
    if requisition_id is not None:
        requisition = state.requisitions.get(requisition_id)
        if requisition is None or requisition["commitment_id"] != commitment["id"]:
            add_error(errors, "requisition_id", "is invalid: no such invoice on this commitment")
    raise_if(errors)
    if record is not None and record.get("origin_id"):
        check_locked(record, values, "payment", ORIGIN_FIELDS)
    state.check_origin_free(state.contract_payments, values.get("origin_id"), record["id"] if record else None)
    return values


def create_payment(state: ProcoreState, commitment: Record, attrs: dict[str, Any]) -> Record:
    """A payment issued on a commitment."""
    values = _payment_values(state, commitment, attrs, None)
    record: Record = {key: None for key in PAYMENT_SPEC}
    record.update(
        id=state.new_id(),
        contract_id=commitment["id"],
        project_id=commitment["project_id"],
        attachments=[],
        origin_code=None,
        status=None,
    )
    state.contract_payments[record["id"]] = finish(record, values, state, creating=True)
    commitment["updated_at"] = record["updated_at"]
    return record


def update_payment(state: ProcoreState, commitment: Record, record: Record, attrs: dict[str, Any]) -> Record:
    """Change a payment (only attachments and origin fields once its origin_id is set)."""
    finish(record, _payment_values(state, commitment, attrs, record), state, creating=False)
    commitment["updated_at"] = record["updated_at"]
    return record


def commitment_payments(state: ProcoreState, commitment_id: int) -> list[Record]:
    """The payments issued on one commitment, oldest first."""
    return [p for p in state.contract_payments.values() if p["contract_id"] == commitment_id]


# -- subcontractor invoices -------------------------------------------------------------------


def update_requisition(state: ProcoreState, record: Record, attrs: dict[str, Any]) -> Record:
    """Change an invoice header; once approved or synced only origin_id/origin_data may change."""
    values, errors = coerce(attrs, REQUISITION_SPEC)
    check_enum(errors, values, "status", REQUISITION_STATUSES)
    raise_if(errors)
    if record.get("origin_id") or record["status"] in LOCKED_REQUISITION_STATUSES:
        check_locked(record, values, "subcontractor invoice")
    state.check_origin_free(state.requisitions, values.get("origin_id"), record["id"])
    return finish(record, values, state, creating=False)


def requisition_items(state: ProcoreState, record: Record) -> list[Record]:
    """The invoice's contract and change order items with gross, retainage and net worked out.

    A change order item (``item_type`` ``change_order_item``) bills a line of one of the
    commitment's change orders, as a contract item bills a schedule-of-values line.
    """
    commitment = state.commitments[record["commitment_id"]]
    percent = commitment["retainage_percent"] or ZERO
    lines = {line["id"]: line for line in commitment["line_items"]} | change_orders.lines_by_id(state, commitment["id"])
    items = []
    for position, item in enumerate(record["items"]):
        work = item["work_completed_this_period"]
        stored = item["materials_presently_stored"]
        gross = work + stored
        retainage = round_money(gross * percent / 100)
        work_retainage = round_money(work * percent / 100)
        line = lines.get(item["line_item_id"], {})
        items.append(
            {
                **item,
                "item_type": item.get("item_type") or "contract_item",
                "accounting_method": commitment["accounting_method"],
                "position": position,
                "line_number": str(position + 1),  # a string in every requisition item schema
                "description_of_work": line.get("description"),
                "scheduled_value": line.get("amount", ZERO),
                "gross_amount": gross,
                "net_amount": gross - retainage,
                "total_completed_and_stored_to_date": gross,
                "work_completed_retainage_percent_this_period": percent,
                "work_completed_retainage_retained_this_period": work_retainage,
                "materials_stored_retainage_percent_this_period": percent,
                "materials_stored_retainage_currently_retained": retainage - work_retainage,
                "total_retainage_currently_retained": retainage,
                "balance_to_finish": line.get("amount", ZERO) - gross,
            }
        )
    return items


def requisition_summary(state: ProcoreState, record: Record, items: list[Record]) -> dict[str, Any]:
    """The invoice's G702-style summary (money as Decimal; the wire layer makes strings)."""
    commitment = state.commitments[record["commitment_id"]]
    original_sum = sum((line["amount"] for line in commitment["line_items"]), ZERO)
    change_orders_sum = change_orders.totals(state, commitment["id"])["approved"]
    contract_sum = original_sum + change_orders_sum
    gross = sum((item["gross_amount"] for item in items), ZERO)
    work_retainage = sum((item["work_completed_retainage_retained_this_period"] for item in items), ZERO)
    retainage = sum((item["total_retainage_currently_retained"] for item in items), ZERO)
    net = sum((item["net_amount"] for item in items), ZERO)
    percent = commitment["retainage_percent"] or ZERO
    return {
        "original_contract_sum": original_sum,
        "net_change_by_change_orders": change_orders_sum,
        "contract_sum_to_date": contract_sum,
        "total_completed_and_stored_to_date": gross,
        "completed_work_retainage_percent": percent,
        "completed_work_retainage_amount": work_retainage,
        "stored_materials_retainage_percent": percent,
        "stored_materials_retainage_amount": retainage - work_retainage,
        "total_retainage": retainage,
        "total_earned_less_retainage": net,
        "less_previous_certificates_for_payment": ZERO,
        "current_payment_due": net,
        "balance_to_finish_including_retainage": contract_sum - net,
        "tax_applicable_to_this_payment": ZERO,
    }


def commitment_totals(state: ProcoreState, record: Record) -> dict[str, Any]:
    """The read-only money fields of a commitment, derived from its lines, invoices and payments."""
    grand_total = sum((line["amount"] or ZERO for line in record["line_items"]), ZERO)
    paid = sum((p["amount"] for p in commitment_payments(state, record["id"])), ZERO)
    invoiced = ZERO
    for requisition in state.requisitions.values():
        if requisition["commitment_id"] == record["id"]:
            invoiced += sum((i["gross_amount"] for i in requisition_items(state, requisition)), ZERO)
    changes = change_orders.totals(state, record["id"])
    revised = grand_total + changes["approved"]
    percentage = round_money(paid / revised * 100) if revised else ZERO
    return {
        "grand_total": grand_total,
        "revised_contract": revised,
        "pending_revised_contract": revised + changes["pending"],
        "approved_change_orders": changes["approved"],
        "pending_change_orders": changes["pending"],
        "draft_change_orders_amount": changes["draft"],
        "total_payments": paid,
        "percentage_paid": percentage,
        "remaining_balance_outstanding": revised - paid,
        "total_requisitions_amount": invoiced,
        "total_draw_requests_amount": ZERO,
    }
