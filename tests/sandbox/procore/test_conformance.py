"""Every field the simulator returns is one Procore's official OAS (or its generated SDK) declares.

Reads ``../shared/reference/procore``: the OAS extract's 200 response schema per operation, falling
back to the generated SDK's model where the extract's list schema is empty.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from trestle.sandbox.procore.spec import SCHEMA_SAME_AS, SDK_MODEL_FOR

#: Where the extract's schema is empty, the SDK model that describes the records (the sandbox's own mapping).
SDK_MODELS = {key.split(" ", 1)[1]: model for key, model in SDK_MODEL_FOR.items() if key.startswith("GET ")}
#: v1.1 project lists have no field list in either source; their items are the v1.0 list items.
SAME_AS = {key.split(" ", 1)[1]: source.split(" ", 1)[1] for key, source in SCHEMA_SAME_AS.items()}


class Reference:
    """Declared fields per operation, from the extract and the SDK models."""

    def __init__(self, folder: Path) -> None:
        extract = json.loads((folder / "procore_oas_extract_finance.json").read_text())
        self.operations = {(op["method"], op["path"]): op for op in extract["operations"]}
        self.models = json.loads((folder / "procore_models_from_generated_sdk.json").read_text())["models"]

    def response_schema(self, path: str) -> dict[str, Any]:
        schema = self.operations[("GET", path)]["responses"]["200"].get("schema") or {}
        return schema.get("items", {}) if schema.get("type") == "array" else schema

    def fields(self, path: str) -> set[str]:
        path = SAME_AS.get(path, path)
        declared = set(self.response_schema(path).get("properties", {}))
        if not declared:
            declared = set(self.models[SDK_MODELS[path]]["fields"])
        return declared

    def nested(self, path: str, key: str) -> set[str]:
        schema = self.response_schema(path)["properties"][key]
        schema = schema.get("items", schema) if schema.get("type") == "array" else schema
        return set(schema.get("properties", {}))

    def body_fields(self, method: str, path: str, *wrapper: str) -> set[str]:
        schema = self.operations[(method, path)]["requestBody"]["schema"]
        for key in wrapper:
            schema = schema["properties"][key]
            schema = schema.get("items", schema) if schema.get("type") == "array" else schema
        return set(schema.get("properties", {}))


@pytest.fixture(scope="module")
def reference(reference_dir: Path) -> Reference:
    return Reference(reference_dir / "procore")


def _assert_declared(items: Any, declared: set[str], label: str, identifying: set[str]) -> None:
    rows = items if isinstance(items, list) else [items]
    assert rows, f"{label}: nothing returned to check"
    for row in rows:
        extra = set(row) - declared
        assert not extra, f"{label} returns undeclared fields {sorted(extra)}"
        assert identifying <= set(row), f"{label} lacks {sorted(identifying - set(row))}"


def test_responses_use_declared_fields(api: httpx.Client, state, company_id: int, reference: Reference) -> None:
    approved = next(c for c in state.commitments.values() if c["status"] == "Approved" and c["line_items"])
    project_id, contract_id = approved["project_id"], approved["id"]
    resource = "work_order_contracts" if approved["type"] == "WorkOrderContract" else "purchase_order_contracts"
    vendor_id = approved["vendor_id"]
    cost_code_id = approved["line_items"][0]["cost_code_id"]
    requisition = next(r for r in state.requisitions.values() if r["project_id"] == project_id)

    payment_body = {
        "project_id": project_id,
        "contract_id": contract_id,
        "contract_payment": {
            "date": "2026-10-30",
            "amount": "1000.00",
            "invoice_number": "INV-1",
            "invoice_date": "2026-10-01",
            "check_number": "EFT-1",
            "payment_number": 1,
            "payment_method": "electronic",
            "requisition_id": requisition["id"],
            "notes": "paid from Xero",
            "origin_id": "xero-payment-1",
            "origin_data": "{}",
        },
    }
    declared_payment = reference.body_fields("POST", "/rest/v1.0/contract_payments", "contract_payment")
    assert set(payment_body["contract_payment"]) <= declared_payment
    assert api.post("/rest/v1.0/contract_payments", json=payment_body).status_code == 201

    direct_cost = {"invoice_number": "DC-1", "vendor_id": vendor_id, "direct_cost_type": "invoice", "status": "draft"}
    assert set(direct_cost) <= reference.body_fields(
        "POST", "/rest/v1.1/projects/{project_id}/direct_costs", "direct_cost"
    )
    created = api.post(f"/rest/v1.1/projects/{project_id}/direct_costs", json={"direct_cost": direct_cost})
    assert created.status_code == 201, created.text
    direct_cost_id = created.json()["id"]
    line = {"amount": 120.5, "cost_code_id": cost_code_id, "description": "Skip bin"}
    assert set(line) <= reference.body_fields(
        "POST", "/rest/v1.0/projects/{project_id}/direct_costs/{direct_cost_id}/line_items", "line_item"
    )
    line_url = f"/rest/v1.0/projects/{project_id}/direct_costs/{direct_cost_id}/line_items"
    assert api.post(line_url, json={"line_item": line}).status_code == 201

    company = {"company_id": company_id}
    project = {"project_id": project_id}
    checks: list[tuple[str, str, dict[str, Any], set[str]]] = [
        ("/rest/v1.0/companies", "/rest/v1.0/companies", {}, {"id", "name"}),
        ("/rest/v1.0/me", "/rest/v1.0/me", {}, {"id", "login", "name"}),
        (
            f"/rest/v1.0/companies/{company_id}/project_stages",
            "/rest/v1.0/companies/{company_id}/project_stages",
            {},
            {"id", "name"},
        ),
        ("/rest/v1.0/projects", "/rest/v1.0/projects", company, {"id", "name", "project_number", "stage"}),
        (
            "/rest/v1.1/projects",
            "/rest/v1.1/projects",
            {**company, "view": "normal"},
            {"id", "project_stage", "active"},
        ),
        (f"/rest/v1.0/projects/{project_id}", "/rest/v1.0/projects/{id}", company, {"id", "project_stage"}),
        ("/rest/v1.0/vendors", "/rest/v1.0/vendors", company, {"id", "name", "business_id", "country_code"}),
        (f"/rest/v1.0/vendors/{vendor_id}", "/rest/v1.0/vendors/{id}", company, {"id", "origin_id"}),
        (
            f"/rest/v1.0/companies/{company_id}/vendors/inactive",
            "/rest/v1.0/companies/{company_id}/vendors/inactive",
            {},
            {"id", "is_active"},
        ),
        ("/rest/v1.0/standard_cost_code_lists", "/rest/v1.0/standard_cost_code_lists", company, {"id", "name"}),
        ("/rest/v1.0/cost_codes", "/rest/v1.0/cost_codes", project, {"id", "full_code", "standard_cost_code_id"}),
        (f"/rest/v1.0/cost_codes/{cost_code_id}", "/rest/v1.0/cost_codes/{id}", project, {"id", "full_code"}),
        ("/rest/v1.0/tax_codes", "/rest/v1.0/tax_codes", company, {"id", "code", "rate1"}),
        ("/rest/v1.0/line_item_types", "/rest/v1.0/line_item_types", {**company, **project}, {"id", "code"}),
        (f"/rest/v1.0/{resource}", f"/rest/v1.0/{resource}", project, {"id", "vendor", "status", "grand_total"}),
        (
            f"/rest/v1.0/{resource}/{contract_id}",
            f"/rest/v1.0/{resource}/{{id}}",
            project,
            {"id", "line_items", "payments_issued", "total_payments", "remaining_balance_outstanding"},
        ),
        (
            f"/rest/v1.0/{resource}/{contract_id}/line_items",
            "/rest/v1.0/work_order_contracts/{work_order_contract_id}/line_items",
            project,
            {"id", "amount", "cost_code"},
        ),
        ("/rest/v1.0/commitments", "/rest/v1.0/commitments", project, {"id", "vendor"}),
        ("/rest/v1.0/requisitions", "/rest/v1.0/requisitions", project, {"id", "commitment_id", "summary"}),
        (
            "/rest/v1.1/requisitions",
            "/rest/v1.1/requisitions",
            {**project, "view": "items"},
            {"id", "vendor_id", "items", "summary"},
        ),
        (
            f"/rest/v1.0/requisitions/{requisition['id']}",
            "/rest/v1.0/requisitions/{id}",
            project,
            {"id", "invoice_number", "erp_status"},
        ),
        (
            f"/rest/v1.1/requisitions/{requisition['id']}",
            "/rest/v1.1/requisitions/{id}",
            {**project, "view": "items"},
            {"id", "items", "origin_id"},
        ),
        (
            f"/rest/v1.0/requisitions/{requisition['id']}/detail",
            "/rest/v1.0/requisitions/{requisition_id}/detail",
            project,
            {"id", "cost_code_id", "work_completed_this_period"},
        ),
        (
            "/rest/v1.0/contract_payments",
            "/rest/v1.0/contract_payments",
            {**project, "contract_id": contract_id},
            {"id", "amount", "origin_id", "contract_id"},
        ),
        (
            f"/rest/v1.1/projects/{project_id}/direct_costs",
            "/rest/v1.1/projects/{project_id}/direct_costs",
            {},
            {"id", "vendor_id", "grand_total"},
        ),
        (
            f"/rest/v1.0/projects/{project_id}/direct_costs",
            "/rest/v1.0/projects/{project_id}/direct_costs",
            {},
            {"id", "invoice_number"},
        ),
        (
            f"/rest/v1.1/projects/{project_id}/direct_costs/{direct_cost_id}",
            "/rest/v1.1/projects/{project_id}/direct_costs/{id}",
            {},
            {"id", "line_items", "vendor"},
        ),
        (line_url, "/rest/v1.0/projects/{project_id}/direct_costs/{direct_cost_id}/line_items", {}, {"id", "amount"}),
    ]
    standard_list = api.get("/rest/v1.0/standard_cost_code_lists", params=company).json()[0]["id"]
    checks.append(
        (
            "/rest/v1.0/standard_cost_codes",
            "/rest/v1.0/standard_cost_codes",
            {**company, "standard_cost_code_list_id": standard_list, "view": "extended"},
            {"id", "full_code", "name"},
        )
    )
    for url, operation, params, identifying in checks:
        response = api.get(url, params=params)
        assert response.status_code == 200, f"{url}: {response.status_code} {response.text[:200]}"
        _assert_declared(response.json(), reference.fields(operation), url, identifying)

    show = api.get(f"/rest/v1.0/{resource}/{contract_id}", params=project).json()
    for key in ("vendor", "line_items", "payments_issued"):
        nested = reference.nested(f"/rest/v1.0/{resource}/{{id}}", key)
        _assert_declared(show[key], nested, f"{resource} show .{key}", {"id"})
    invoice = api.get(f"/rest/v1.1/requisitions/{requisition['id']}", params={**project, "view": "items"}).json()
    _assert_declared(invoice["summary"], reference.nested("/rest/v1.1/requisitions/{id}", "summary"), "summary", set())
    items_declared = reference.nested("/rest/v1.1/requisitions/{id}", "items")
    _assert_declared(invoice["items"], items_declared, "v1.1 items", {"cost_code_id", "line_item_id", "net_amount"})


def test_write_bodies_use_declared_keys(api: httpx.Client, company_id: int, reference: Reference) -> None:
    vendor = {"name": "Declared Keys Pty Ltd", "country_code": "AU", "state_code": "NSW", "origin_id": "x-1"}
    assert set(vendor) <= reference.body_fields("POST", "/rest/v1.0/vendors", "vendor")
    assert api.post("/rest/v1.0/vendors", json={"company_id": company_id, "vendor": vendor}).status_code == 201
    update = {"origin_id": "x-2", "name": "Synced Pty Ltd", "email_address": "a@b.example"}
    assert set(update) <= reference.body_fields("PATCH", "/rest/v1.0/vendors/sync", "updates")
    synced = api.patch("/rest/v1.0/vendors/sync", json={"company_id": company_id, "updates": [update]})
    assert synced.status_code == 200 and synced.json()["errors"] == []
