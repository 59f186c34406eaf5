"""What each endpoint returns: one function per response shape, fields as the official OAS declares.

Every field list below is a subset of the fields Procore's OpenAPI document (or, where the
extract is empty, the generated SDK's models) declares for that operation; the conformance tests
check this against ``../shared/reference``. Views return native values; :func:`.wire.to_wire`
makes them JSON.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from . import routes_attachments
from .money import (
    ZERO,
    commitment_payments,
    commitment_totals,
    direct_cost_total,
    requisition_items,
    requisition_summary,
)
from .state import PURCHASE_ORDER, WORK_ORDER, ProcoreState, Record, by_id
from .wire import pick

_ORIGIN = ("origin_id", "origin_data", "origin_code")
_STAMPS = ("created_at", "updated_at")

VENDOR_FIELDS = (
    "id", "name", "abbreviated_name", "trade_name", "legal_name", "is_active", "address", "city",
    "state_code", "zip", "country_code", "business_phone", "mobile_phone", "fax_number", "email_address",
    "website", "license_number", "business_id", "notes", *_ORIGIN, "synced_to_erp", "primary_contact",
    "vendor_group", "parent", "trades", *_STAMPS,
)  # fmt: skip
PROJECT_LIST_FIELDS = (
    "id", "name", "display_name", "project_number", "address", "city", "state_code", "country_code", "zip",
    "time_zone", "stage", "project_stage", "active", *_ORIGIN, "accounting_project_number", "start_date",
    "completion_date", "company", *_STAMPS,
)  # fmt: skip
PROJECT_SHOW_FIELDS = (
    "id", "name", "display_name", "project_number", "address", "city", "state_code", "country_code", "zip",
    "time_zone", "description", "active", "start_date", "completion_date", *_ORIGIN,
    "standard_cost_code_list_id", "is_erp_integrated", "accounting_project_number", "project_stage_id",
    "project_stage", "company", *_STAMPS,
)  # fmt: skip
#: ``PATCH /projects/sync`` entities: the show record less what that operation's entity schema lacks.
PROJECT_SYNC_FIELDS = tuple(
    name
    for name in PROJECT_SHOW_FIELDS
    if name not in ("company", "is_erp_integrated", "project_stage_id", "standard_cost_code_list_id")
)
STAGE_FIELDS = ("id", "name", "is_bidding_stage")
COST_CODE_FIELDS = (
    "id", "code", "full_code", "sortable_code", "name", "parent", "position", "standard_cost_code_id",
    "biller", "biller_id", "biller_type", "budgeted", "line_item_types", "origin_id", "origin_data",
    "deleted_at", *_STAMPS,
)  # fmt: skip
COMMITMENT_FIELDS = (
    "id", "number", "title", "status", "description", "executed", "execution_date", "private",
    "accounting_method", "retainage_percent", "contract_date", "issued_on_date", "signed_contract_received_date",
    "vendor", "project", *_ORIGIN, "deleted_at", *_STAMPS, "grand_total", "revised_contract",
    "pending_revised_contract", "approved_change_orders", "pending_change_orders", "draft_change_orders_amount",
    "total_payments", "percentage_paid", "remaining_balance_outstanding", "total_requisitions_amount",
    "total_draw_requests_amount",
)  # fmt: skip
COMMITMENT_TYPE_FIELDS = {
    WORK_ORDER: ("contract_start_date", "contract_estimated_completion_date", "inclusions", "exclusions"),
    PURCHASE_ORDER: ("bill_to_address", "ship_to_address", "ship_via", "payment_terms", "delivery_date"),
}
COMMITMENT_SUMMARY_FIELDS = (
    "id", "title", "number", "status", "description", "executed", "delivery_date", "created_at", "private",
    "vendor",
)  # fmt: skip
LINE_ITEM_FIELDS = (
    "id", "amount", "description", "cost_code", "line_item_type", "tax_code_id", "quantity", "unit_cost", "uom",
    "extended_type", "total_amount", "extended_amount", "position", "origin_id", "origin_data", *_STAMPS,
)  # fmt: skip
PAYMENT_ISSUED_FIELDS = (
    "id", "amount", "check_number", "date", "draw_request_number", "invoice_number", "notes", "payment_number",
    "attachments", "origin_id", "origin_data", "created_at",
)  # fmt: skip
PAYMENT_FIELDS = (
    "id", "contract_id", "project_id", "requisition_id", "date", "amount", "check_number", "invoice_number",
    "payment_number", "draw_request_number", "notes", "status", "external_payment_id", "date_payment_initiated",
    "date_payment_settled", *_ORIGIN, "attachments", *_STAMPS,
)  # fmt: skip
REQUISITION_V10_FIELDS = (
    "id", "project_id", "number", "invoice_number", "commitment_id", "commitment_type", "contract_name",
    "vendor_name", "period_id", "requisition_start", "requisition_end", "billing_date", "payment_date",
    "submitted_at", "comment", "final", "status", "erp_status", "percent_complete", "total_claimed_amount",
    "deletable", "origin_id", "origin_data", "attachments", "summary", *_STAMPS,
)  # fmt: skip
REQUISITION_V11_FIELDS = (
    *(name for name in REQUISITION_V10_FIELDS if name != "comment"), "vendor_id", "items",
)  # fmt: skip
REQUISITION_ITEM_FIELDS = (
    "id", "item_type", "accounting_method", "cost_code_id", "line_item_id", "description_of_work",
    "scheduled_value", "work_completed_from_previous_application", "work_completed_this_period",
    "materials_presently_stored", "total_completed_and_stored_to_date", "gross_amount", "net_amount",
    "work_completed_retainage_percent_this_period", "work_completed_retainage_retained_this_period",
    "materials_stored_retainage_percent_this_period", "materials_stored_retainage_currently_retained",
    "position", "line_number",
)  # fmt: skip
REQUISITION_DETAIL_FIELDS = (
    "id", "item_type", "cost_code_id", "description_of_work", "scheduled_value",
    "work_completed_from_previous_application", "work_completed_this_period", "materials_presently_stored",
    "total_completed_and_stored_to_date", "balance_to_finish", "work_completed_retainage_percent_this_period",
    "work_completed_retainage_retained_this_period", "materials_stored_retainage_percent_this_period",
    "materials_stored_retainage_currently_retained", "total_retainage_currently_retained",
)  # fmt: skip
DIRECT_COST_LIST_FIELDS = (
    "id", "direct_cost_type", "status", "invoice_number", "direct_cost_date", "received_date", "payment_date",
    "terms", "description", "vendor", "vendor_id", "vendor_name", "employee", "grand_total", "origin_id",
    "origin_data", "deleted_at", *_STAMPS,
)  # fmt: skip
#: v1.0 show/create/update/sync records carry no lines, project or company (their 200 schemas); v1.1 do.
DIRECT_COST_V10_SHOW_FIELDS = (*DIRECT_COST_LIST_FIELDS, "line_items_count", "attachments")
DIRECT_COST_SHOW_FIELDS = (*DIRECT_COST_V10_SHOW_FIELDS, "line_items", "project", "company")
DIRECT_COST_LINE_FIELDS = tuple(name for name in LINE_ITEM_FIELDS)


def company(state: ProcoreState) -> Record:
    """``GET /companies`` item."""
    return {**pick(state.company, ("id", "name", "is_active")), "logo_url": None, "my_company": True}


def vendor(record: Record) -> Record:
    """Vendor (extended view), for lists, show, writes and sync entities."""
    full = {**record, "synced_to_erp": bool(record.get("origin_id")), "trades": []}
    return pick(full, VENDOR_FIELDS)


def _stage_ref(state: ProcoreState, record: Record) -> Record | None:
    stage = by_id(state.project_stages, record.get("project_stage_id"))
    return {"id": stage["id"], "name": stage["name"]} if stage else None


def _project_full(state: ProcoreState, record: Record) -> Record:
    stage = _stage_ref(state, record)
    number = record.get("project_number")
    return {
        **record,
        "display_name": f"{number} - {record['name']}" if number else record["name"],
        "stage": stage["name"] if stage else None,
        "project_stage": stage,
        "is_erp_integrated": bool(record.get("origin_id")),
        "company": {"id": state.company_id, "name": state.company["name"]},
    }


def project_list_item(state: ProcoreState, record: Record) -> Record:
    """Project as listed (``stage`` string plus ``project_stage``)."""
    return pick(_project_full(state, record), PROJECT_LIST_FIELDS)


def project_synced(state: ProcoreState, record: Record) -> Record:
    """Project as a sync action answers it."""
    return pick(_project_full(state, record), PROJECT_SYNC_FIELDS)


def project_show(state: ProcoreState, record: Record) -> Record:
    """Project as shown (adds ``standard_cost_code_list_id``, ``is_erp_integrated``)."""
    return pick(_project_full(state, record), PROJECT_SHOW_FIELDS)


def cost_code(state: ProcoreState, record: Record, *, show: bool = False) -> Record:
    """Project cost code (show adds the standard list id)."""
    project = state.projects.get(record["project_id"], {})
    parent = {"id": record["parent_id"]} if record.get("parent_id") else None
    full = {
        **record,
        "parent": parent,
        "biller": project.get("name"),
        "biller_id": record["project_id"],
        "biller_type": "Project",
        "budgeted": False,
        "line_item_types": [],
    }
    fields = (*COST_CODE_FIELDS, "standard_cost_code_list_id") if show else COST_CODE_FIELDS
    standard = by_id(state.standard_cost_codes, record.get("standard_cost_code_id"))
    full["standard_cost_code_list_id"] = standard["standard_cost_code_list_id"] if standard else None
    return pick(full, fields)


def _cost_code_ref(state: ProcoreState, cost_code_id: int | None) -> Record | None:
    code = state.cost_codes.get(cost_code_id) if cost_code_id is not None else None
    return pick(code, ("id", "code", "full_code", "name")) if code else None


def line_item(state: ProcoreState, holder: Record, line: Record, *, embedded: bool = True) -> Record:
    """A commitment SOV line or direct cost line (standalone adds holder/project/company)."""
    line_type = by_id(state.line_item_types, line.get("line_item_type_id"))
    amount = line.get("amount") or ZERO
    full = {
        **line,
        "cost_code": _cost_code_ref(state, line.get("cost_code_id")),
        "line_item_type": pick(line_type, ("id", "name", "code", "base_type", "origin_id", "origin_data"))
        if line_type
        else None,
        "total_amount": amount,
        "extended_amount": amount,
    }
    if embedded:
        return pick(full, LINE_ITEM_FIELDS)
    project = state.projects[holder["project_id"]]
    full["holder"] = {"id": holder["id"], "holder_type": holder.get("type", "DirectCost")}
    full["project"] = {"id": project["id"], "name": project["name"]}
    full["company"] = {"id": state.company_id, "name": state.company["name"]}
    return pick(full, (*LINE_ITEM_FIELDS, "holder", "project", "company"))


def _commitment_full(state: ProcoreState, record: Record) -> Record:
    vendor_record = by_id(state.vendors, record.get("vendor_id"))
    project = state.projects[record["project_id"]]
    return {
        **record,
        **commitment_totals(state, record),
        "vendor": {
            "id": vendor_record["id"],
            "company": vendor_record["name"],
            "origin_id": vendor_record.get("origin_id"),
            "origin_data": vendor_record.get("origin_data"),
        }
        if vendor_record
        else None,
        "project": {"id": project["id"], "name": project["name"]},
    }


def commitment(state: ProcoreState, record: Record, *, show: bool = False) -> Record:
    """Work order or purchase order contract; show adds ``line_items`` and ``payments_issued``.

    A listed contract's ``vendor`` is ``{id, company}`` (the list schema); show adds its origin fields.
    """
    full = _commitment_full(state, record)
    fields = COMMITMENT_FIELDS + COMMITMENT_TYPE_FIELDS[record["type"]]
    view = pick(full, fields)
    if not show and view["vendor"] is not None:
        view["vendor"] = pick(view["vendor"], ("id", "company"))
    if show:
        view["line_items"] = [line_item(state, record, line) for line in record["line_items"]]
        view["payments_issued"] = [
            pick(payment, PAYMENT_ISSUED_FIELDS) for payment in commitment_payments(state, record["id"])
        ]
    return view


def commitment_summary(state: ProcoreState, record: Record) -> Record:
    """``GET /commitments`` item: both types, and no ``type`` key.

    API_NOTES §9 mentions a ``type`` key; the operation's schema has none, so the narrower reading wins.
    """
    vendor_record = by_id(state.vendors, record.get("vendor_id"))
    full = {**record, "vendor": {"id": vendor_record["id"], "name": vendor_record["name"]} if vendor_record else None}
    return pick(full, COMMITMENT_SUMMARY_FIELDS)


def payment(record: Record) -> Record:
    """Contract payment (list, show and writes)."""
    return pick(record, PAYMENT_FIELDS)


def _requisition_full(state: ProcoreState, record: Record) -> tuple[Record, list[Record]]:
    commitment_record = state.commitments[record["commitment_id"]]
    vendor_record = by_id(state.vendors, commitment_record.get("vendor_id")) or {}
    items = requisition_items(state, record)
    summary = requisition_summary(state, record, items)
    contract_sum = summary["contract_sum_to_date"]
    claimed = summary["total_completed_and_stored_to_date"]
    full = {
        **record,
        "commitment_type": commitment_record["type"],
        "contract_name": commitment_record.get("title"),
        "vendor_id": vendor_record.get("id"),
        "vendor_name": vendor_record.get("name"),
        "percent_complete": (claimed / contract_sum * 100) if contract_sum else Decimal(0),
        "total_claimed_amount": claimed,
        "deletable": record["status"] == "draft" and not record.get("origin_id"),
        "attachments": routes_attachments.present(record.get("attachments")),
        "summary": summary,
    }
    return full, items


def requisition(state: ProcoreState, record: Record, *, version: str, updated: bool = False) -> Record:
    """Subcontractor invoice: v1.0 without items, v1.1 with ``vendor_id`` and ``items``.

    The v1.0 update answers without ``comment`` (its 200 schema has none, unlike list and show).
    """
    full, items = _requisition_full(state, record)
    if version == "v1.0":
        return pick(full, tuple(name for name in REQUISITION_V10_FIELDS if not (updated and name == "comment")))
    full["items"] = [pick(item, REQUISITION_ITEM_FIELDS) for item in items]
    return pick(full, REQUISITION_V11_FIELDS)


def requisition_detail(state: ProcoreState, record: Record) -> list[Record]:
    """``GET /requisitions/{id}/detail``: every contract item line."""
    return [pick(item, REQUISITION_DETAIL_FIELDS) for item in requisition_items(state, record)]


def direct_cost(state: ProcoreState, record: Record, *, show: bool = False, version: str = "v1.1") -> Record:
    """Direct cost; the list's ``vendor`` is the vendor's name (its list schema), show's an ``{id, name}``.

    Show adds ``line_items_count`` and, on v1.1 only, ``line_items``, ``project`` and ``company``.
    """
    vendor_record = by_id(state.vendors, record.get("vendor_id"))
    project = state.projects[record["project_id"]]
    full: dict[str, Any] = {
        **record,
        "vendor": {"id": vendor_record["id"], "name": vendor_record["name"]} if vendor_record else None,
        "vendor_name": vendor_record["name"] if vendor_record else None,
        "employee": None,
        "grand_total": direct_cost_total(record),
        "line_items_count": len(record["line_items"]),
        "attachments": routes_attachments.present(record.get("attachments"), content_type=False),
        "project": {"id": project["id"], "name": project["name"]},
        "company": {"id": state.company_id, "name": state.company["name"]},
    }
    if not show:
        return pick({**full, "vendor": full["vendor_name"]}, DIRECT_COST_LIST_FIELDS)
    if version == "v1.0":
        return pick(full, DIRECT_COST_V10_SHOW_FIELDS)
    full["line_items"] = [line_item(state, record, line) for line in record["line_items"]]
    return pick(full, DIRECT_COST_SHOW_FIELDS)
