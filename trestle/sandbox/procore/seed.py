"""Scenario → Procore state: the company as Procore would hold it.

Deterministic for a scenario: ids come from one sequence in a fixed order, and timestamps are
derived from ``scenario.now`` going back. Seeded records bypass validation on purpose: vendor
addresses are copied exactly as the scenario's users typed them (alpha-3 or misspelt countries
included), because those are the planted problems the integrations must report.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from ..attachments_seed import seed_claim_attachments
from ..scenario import PROJECT_STAGES, Claim, Commitment, Party, Project, Scenario
from .seed_change_orders import seed_change_orders
from .state import PURCHASE_ORDER, WORK_ORDER, ProcoreState, Record, line_record

TAX_CODES = (("GST", "GST on purchases", Decimal("10.0")), ("FRE", "GST free purchases", Decimal("0.0")))
LINE_ITEM_TYPES = (
    ("Labor", "L", "professional_services"),
    ("Materials", "M", "materials"),
    ("Subcontract", "S", "commitment"),
    ("Other", "O", "other"),
)


def _stamps(now: datetime, index: int) -> dict[str, datetime]:
    created = now - timedelta(days=400 - (index * 7) % 300, hours=index % 24)
    updated = now - timedelta(days=(index * 3) % 60, minutes=index % 59)
    return {"created_at": created, "updated_at": max(created, updated)}


def build_state(scenario: Scenario) -> ProcoreState:
    """The Procore company the scenario describes."""
    state = ProcoreState(
        company={"id": scenario.procore_company_id, "name": scenario.company_name, "is_active": True},
        me={},
        seeded_at=scenario.now,
    )
    state.me = {"id": state.new_id(), "login": "trestle-dmsa@sandbox.invalid", "name": "Trestle Service Account"}
    for index, name in enumerate(PROJECT_STAGES):
        stage_id = state.new_id()
        state.project_stages[stage_id] = {"id": stage_id, "name": name, "is_bidding_stage": index == 0}
    list_id = state.new_id()
    state.standard_cost_code_lists[list_id] = {
        "id": list_id,
        "name": "Standard Cost Codes",
        "is_erp_list": False,
        "available_to_use_on_new_projects": True,
    }
    standard_ids: dict[str, int] = {}
    for full_code, name in scenario.standard_cost_codes:
        code_id = state.new_id()
        standard_ids[full_code] = code_id
        state.standard_cost_codes[code_id] = {
            "id": code_id,
            "standard_cost_code_list_id": list_id,
            "parent_id": None,
            "code": full_code,
            "full_code": full_code,
            "name": name,
            "origin_id": None,
            "origin_data": None,
        }
    for index, (code, description, rate) in enumerate(TAX_CODES):
        tax_id = state.new_id()
        state.tax_codes[tax_id] = {
            "id": tax_id,
            "code": code,
            "description": description,
            "rate1": rate,
            "archived": False,
            "default_tax_code": index == 0,
            "origin_id": None,
            "origin_data": None,
        }
    for name, code, base_type in LINE_ITEM_TYPES:
        type_id = state.new_id()
        state.line_item_types[type_id] = {
            "id": type_id,
            "name": name,
            "code": code,
            "base_type": base_type,
            "origin_id": None,
            "origin_data": None,
        }
    vendor_ids = _seed_vendors(state, scenario)
    project_ids, cost_code_ids = _seed_projects(state, scenario, list_id, standard_ids)
    commitment_ids = _seed_commitments(state, scenario, project_ids, cost_code_ids, vendor_ids)
    _seed_requisitions(state, scenario, commitment_ids)
    seed_change_orders(state, scenario, commitment_ids)
    seed_claim_attachments(state)
    return state


def _vendor_record(state: ProcoreState, party: Party, index: int, now: datetime) -> Record:
    address = party.address
    return {
        "id": state.new_id(),
        "name": party.procore_name,
        "abbreviated_name": None,
        "trade_name": party.trade,
        "legal_name": None,
        "is_active": party.procore_active,
        "address": address.line1,
        "city": address.city,
        "state_code": address.region,
        "zip": address.postal_code,
        "country_code": address.country,
        "business_phone": party.phone,
        "mobile_phone": None,
        "fax_number": None,
        "email_address": party.email,
        "website": None,
        "license_number": None,
        "business_id": party.tax_number,
        "notes": None,
        "origin_id": None,
        "origin_data": None,
        "origin_code": None,
        **_stamps(now, index),
    }


def _seed_vendors(state: ProcoreState, scenario: Scenario) -> dict[str, int]:
    ids: dict[str, int] = {}
    for index, party in enumerate(p for p in scenario.parties if p.procore_name):
        record = _vendor_record(state, party, index, scenario.now)
        state.vendors[record["id"]] = record
        ids[party.key] = record["id"]
    return ids


def _project_record(state: ProcoreState, project: Project, index: int, list_id: int, now: datetime) -> Record:
    stage_id = next(sid for sid, stage in state.project_stages.items() if stage["name"] == project.stage)
    address = project.address
    return {
        "id": state.new_id(),
        "name": project.name,
        "project_number": project.number,
        "active": project.active,
        "address": address.line1,
        "city": address.city,
        "state_code": address.region,
        "zip": address.postal_code,
        "country_code": address.country,
        "description": None,
        "start_date": project.start_date,
        "completion_date": None,
        "project_stage_id": stage_id,
        "standard_cost_code_list_id": list_id,
        "accounting_project_number": None,
        "time_zone": "Sydney",
        "origin_id": None,
        "origin_data": None,
        "origin_code": None,
        **_stamps(now, index),
    }


def _seed_projects(
    state: ProcoreState, scenario: Scenario, list_id: int, standard_ids: dict[str, int]
) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    names = dict(scenario.standard_cost_codes) | dict(scenario.non_standard_cost_codes)
    project_ids: dict[str, int] = {}
    cost_code_ids: dict[tuple[str, str], int] = {}
    for index, project in enumerate(scenario.projects):
        record = _project_record(state, project, index, list_id, scenario.now)
        state.projects[record["id"]] = record
        project_ids[project.key] = record["id"]
        for position, full_code in enumerate(project.cost_codes):
            code_id = state.new_id()
            cost_code_ids[(project.key, full_code)] = code_id
            state.cost_codes[code_id] = {
                "id": code_id,
                "project_id": record["id"],
                "code": full_code,
                "full_code": full_code,
                "sortable_code": full_code,
                "name": names.get(full_code, full_code),
                "parent_id": None,
                "position": position,
                "standard_cost_code_id": standard_ids.get(full_code),
                "origin_id": None,
                "origin_data": None,
                "deleted_at": None,
                "created_at": record["created_at"],
                "updated_at": record["created_at"],
            }
    return project_ids, cost_code_ids


def _commitment_record(
    state: ProcoreState,
    commitment: Commitment,
    index: int,
    project_ids: dict[str, int],
    cost_code_ids: dict[tuple[str, str], int],
    vendor_ids: dict[str, int],
    now: datetime,
) -> Record:
    stamps = _stamps(now, index)
    lines = [
        line_record(
            state,
            amount=line.amount,
            description=line.description,
            cost_code_id=cost_code_ids.get((commitment.project_key, line.cost_code)),
            position=position,
            stamps=stamps,
        )
        for position, line in enumerate(commitment.lines)
    ]
    return {
        "id": state.new_id(),
        "type": WORK_ORDER if commitment.kind == "work_order" else PURCHASE_ORDER,
        "project_id": project_ids[commitment.project_key],
        "number": commitment.number,
        "title": commitment.title,
        "status": commitment.status,
        "vendor_id": vendor_ids.get(commitment.vendor_key),
        "description": None,
        "executed": commitment.status in {"Approved", "Complete"},
        "private": False,
        "accounting_method": "amount",
        "retainage_percent": commitment.retainage_percent,
        "contract_date": commitment.contract_date,
        "deleted_at": None,
        "origin_id": None,
        "origin_data": None,
        "origin_code": None,
        "line_items": lines,
        **stamps,
    }


def _seed_commitments(
    state: ProcoreState,
    scenario: Scenario,
    project_ids: dict[str, int],
    cost_code_ids: dict[tuple[str, str], int],
    vendor_ids: dict[str, int],
) -> dict[str, int]:
    ids: dict[str, int] = {}
    for index, commitment in enumerate(scenario.commitments):
        record = _commitment_record(state, commitment, index, project_ids, cost_code_ids, vendor_ids, scenario.now)
        state.commitments[record["id"]] = record
        ids[commitment.key] = record["id"]
    return ids


def _requisition_record(state: ProcoreState, claim: Claim, commitment: Record, index: int, now: datetime) -> Record:
    items = []
    for line in claim.lines:
        line_item = commitment["line_items"][line.line_index]
        items.append(
            {
                "id": state.new_id(),
                "line_item_id": line_item["id"],
                "cost_code_id": line_item["cost_code_id"],
                "work_completed_this_period": line.work_completed_this_period,
                "materials_presently_stored": line.materials_presently_stored,
                "work_completed_from_previous_application": Decimal("0.00"),
            }
        )
    return {
        "id": state.new_id(),
        "project_id": commitment["project_id"],
        "commitment_id": commitment["id"],
        "number": claim.number,
        "invoice_number": claim.invoice_number,
        "period_id": None,
        "requisition_start": claim.period_start,
        "requisition_end": claim.period_end,
        "billing_date": claim.billing_date,
        "payment_date": None,
        "submitted_at": claim.billing_date if claim.status != "draft" else None,
        "comment": None,
        "final": False,
        "status": claim.status,
        "erp_status": None,
        "origin_id": None,
        "origin_data": None,
        "items": items,
        **_stamps(now, index),
    }


def _seed_requisitions(state: ProcoreState, scenario: Scenario, commitment_ids: dict[str, int]) -> None:
    for index, claim in enumerate(scenario.claims):
        commitment = state.commitments[commitment_ids[claim.commitment_key]]
        record = _requisition_record(state, claim, commitment, index, scenario.now)
        state.requisitions[record["id"]] = record
