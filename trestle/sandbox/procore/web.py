"""Human pages at the same paths as app.procore.com, so links in emails open something real.

Plain HTML, no auth, the record's main fields only; anything unknown is a 404 page.
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from .routing import state_of
from .state import ProcoreState, Record, by_id
from .wire import to_wire

router = APIRouter(include_in_schema=False)


def _page(title: str, rows: list[tuple[str, Any]], status: int = 200) -> HTMLResponse:
    cells = "".join(
        f"<tr><th>{escape(label)}</th><td>{escape('' if value is None else str(to_wire(value)))}</td></tr>"
        for label, value in rows
    )
    body = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)} - Procore sandbox</title>"
        f"</head><body><h1>{escape(title)}</h1><table>{cells}</table></body></html>"
    )
    return HTMLResponse(body, status_code=status)


def _missing() -> HTMLResponse:
    return _page("Not found", [("", "This record does not exist in the Procore sandbox.")], status=404)


def _in_project(record: Record | None, project_id: int) -> bool:
    return record is not None and record.get("project_id") == project_id


def _fields(record: Record, names: tuple[str, ...]) -> list[tuple[str, Any]]:
    return [(name.replace("_", " ").capitalize(), record.get(name)) for name in names]


@router.get("/{company_id}/company/vendors/{vendor_id}")
async def vendor_page(request: Request, company_id: int, vendor_id: int) -> HTMLResponse:
    """A company vendor."""
    state = state_of(request)
    record = state.vendors.get(vendor_id)
    if company_id != state.company_id or record is None:
        return _missing()
    fields = ("name", "is_active", "business_id", "address", "city", "state_code", "zip", "country_code")
    return _page(f"Vendor: {record['name']}", _fields(record, (*fields, "email_address", "origin_id")))


@router.get("/{company_id}/company/cost_codes")
async def cost_codes_page(request: Request, company_id: int) -> HTMLResponse:
    """The company's standard cost codes."""
    state = state_of(request)
    if company_id != state.company_id:
        return _missing()
    codes = sorted(state.standard_cost_codes.values(), key=lambda code: code["full_code"])
    return _page("Standard cost codes", [(code["full_code"], code["name"]) for code in codes])


@router.get("/{project_id}/project/home")
async def project_page(request: Request, project_id: int) -> HTMLResponse:
    """A project."""
    state = state_of(request)
    record = state.projects.get(project_id)
    if record is None:
        return _missing()
    stage = by_id(state.project_stages, record.get("project_stage_id")) or {}
    rows = _fields(record, ("project_number", "name", "active", "city", "origin_id"))
    return _page(f"Project: {record['name']}", [*rows, ("Stage", stage.get("name"))])


def _commitment_rows(state: ProcoreState, record: Record) -> list[tuple[str, Any]]:
    vendor = by_id(state.vendors, record.get("vendor_id")) or {}
    total = sum((line["amount"] for line in record["line_items"]), 0)
    rows = _fields(record, ("number", "title", "status", "retainage_percent", "origin_id"))
    return [*rows, ("Vendor", vendor.get("name")), ("Grand total", total)]


@router.get("/{project_id}/project/commitments/{kind}_contracts/{commitment_id}")
async def commitment_page(request: Request, project_id: int, kind: str, commitment_id: int) -> HTMLResponse:
    """A work order or purchase order contract."""
    state = state_of(request)
    record = state.commitments.get(commitment_id)
    expected = {"work_order": "WorkOrderContract", "purchase_order": "PurchaseOrderContract"}.get(kind)
    if not _in_project(record, project_id) or record is None or record["type"] != expected:
        return _missing()
    return _page(f"Commitment {record['number']}", _commitment_rows(state, record))


@router.get("/{project_id}/project/commitments/requisitions/{requisition_id}")
async def requisition_page(request: Request, project_id: int, requisition_id: int) -> HTMLResponse:
    """A subcontractor invoice."""
    record = state_of(request).requisitions.get(requisition_id)
    if record is None or not _in_project(record, project_id):
        return _missing()
    fields = ("number", "invoice_number", "status", "billing_date", "requisition_start", "requisition_end")
    return _page(f"Subcontractor invoice #{record['number']}", _fields(record, (*fields, "origin_id")))


@router.get("/{project_id}/project/commitments/contract_payments/{payment_id}")
async def payment_page(request: Request, project_id: int, payment_id: int) -> HTMLResponse:
    """A payment issued on a commitment."""
    record = state_of(request).contract_payments.get(payment_id)
    if record is None or not _in_project(record, project_id):
        return _missing()
    fields = ("date", "amount", "invoice_number", "check_number", "payment_number", "origin_id")
    return _page(f"Contract payment {record['id']}", _fields(record, fields))


@router.get("/{project_id}/project/direct_costs/{direct_cost_id}")
async def direct_cost_page(request: Request, project_id: int, direct_cost_id: int) -> HTMLResponse:
    """A direct cost."""
    record = state_of(request).direct_costs.get(direct_cost_id)
    if record is None or not _in_project(record, project_id):
        return _missing()
    fields = ("invoice_number", "direct_cost_type", "status", "direct_cost_date", "origin_id")
    return _page(f"Direct cost {record['invoice_number']}", _fields(record, fields))
