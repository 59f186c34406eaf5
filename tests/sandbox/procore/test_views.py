"""Every entry of the view tables, against the running sandbox (parametrised from the table data).

For each operation with a ``view`` parameter and each view it lists (plus "no view at all"), the
sandbox's records carry exactly the attributes that view allows out of the operation's full record.
Operations the sandbox does not serve must answer 404/405, so a new route gets its views tested
as soon as it gets a request builder below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from trestle.sandbox.procore.spec import load_spec
from trestle.sandbox.procore.view_tables import VIEW_TABLES, ViewTable

Call = tuple[str, str, dict[str, Any], dict[str, Any] | None]  # method, url, params, json body
Builder = Callable[[Any, int], Call]


def _requisition(state: Any) -> dict[str, Any]:
    return next(r for r in sorted(state.requisitions.values(), key=lambda r: r["id"]) if r["status"] == "approved")


def _commitment(state: Any, kind: str) -> dict[str, Any]:
    return next(c for c in state.commitments.values() if c["type"] == kind and c["line_items"])


def _line_items(kind: str, resource: str, *, show: bool) -> Builder:
    def build(state: Any, _: int) -> Call:
        record = _commitment(state, kind)
        url = f"/rest/v1.0/{resource}/{record['id']}/line_items"
        url += f"/{record['line_items'][0]['id']}" if show else ""
        return "GET", url, {"project_id": record["project_id"]}, None

    return build


def _change_order(state: Any) -> dict[str, Any]:
    return next(co for co in sorted(state.change_orders.values(), key=lambda co: co["id"]))


def _inactive_vendor(state: Any) -> int:
    return next(v["id"] for v in state.vendors.values() if not v["is_active"])


def _active_vendor(state: Any) -> int:
    return next(v["id"] for v in state.vendors.values() if v["is_active"])


#: How to call each operation the sandbox serves (keyed like VIEW_TABLES).
CALLS: dict[str, Builder] = {
    "GET /rest/v1.0/vendors": lambda s, c: ("GET", "/rest/v1.0/vendors", {"company_id": c}, None),
    "GET /rest/v1.0/vendors/{id}": lambda s, c: (
        "GET", f"/rest/v1.0/vendors/{_active_vendor(s)}", {"company_id": c}, None,
    ),
    "POST /rest/v1.0/vendors": lambda s, c: (
        "POST", "/rest/v1.0/vendors", {}, {"company_id": c, "vendor": {"name": "View Test Pty Ltd"}},
    ),
    "PATCH /rest/v1.0/vendors/{id}": lambda s, c: (
        "PATCH", f"/rest/v1.0/vendors/{_active_vendor(s)}", {}, {"company_id": c, "vendor": {"notes": "views"}},
    ),
    "GET /rest/v1.0/companies/{company_id}/vendors/inactive": lambda s, c: (
        "GET", f"/rest/v1.0/companies/{c}/vendors/inactive", {}, None,
    ),
    "PATCH /rest/v1.0/companies/{company_id}/vendors/inactive/{id}": lambda s, c: (
        "PATCH", f"/rest/v1.0/companies/{c}/vendors/inactive/{_inactive_vendor(s)}", {}, None,
    ),
    "GET /rest/v1.1/requisitions": lambda s, c: (
        "GET", "/rest/v1.1/requisitions", {"project_id": _requisition(s)["project_id"]}, None,
    ),
    "GET /rest/v1.1/requisitions/{id}": lambda s, c: (
        "GET", f"/rest/v1.1/requisitions/{_requisition(s)['id']}", {"project_id": _requisition(s)["project_id"]}, None,
    ),
    "PATCH /rest/v1.1/requisitions/{id}": lambda s, c: (
        "PATCH",
        f"/rest/v1.1/requisitions/{_requisition(s)['id']}",
        {},
        {"project_id": _requisition(s)["project_id"], "requisition": {"origin_data": "views"}},
    ),
    "GET /rest/v1.0/standard_cost_codes": lambda s, c: (
        "GET",
        "/rest/v1.0/standard_cost_codes",
        {"company_id": c, "standard_cost_code_list_id": min(s.standard_cost_code_lists)},
        None,
    ),
    "GET /rest/v1.1/projects": lambda s, c: ("GET", "/rest/v1.1/projects", {"company_id": c}, None),
    "GET /rest/v1.0/projects/{id}": lambda s, c: (
        "GET", f"/rest/v1.0/projects/{min(s.projects)}", {"company_id": c}, None,
    ),
    "GET /rest/v1.0/work_order_contracts": lambda s, c: (
        "GET",
        "/rest/v1.0/work_order_contracts",
        {"project_id": _commitment(s, "WorkOrderContract")["project_id"]},
        None,
    ),
    "GET /rest/v1.0/purchase_order_contracts": lambda s, c: (
        "GET",
        "/rest/v1.0/purchase_order_contracts",
        {"project_id": _commitment(s, "PurchaseOrderContract")["project_id"]},
        None,
    ),
    "GET /rest/v1.0/work_order_contracts/{work_order_contract_id}/line_items": _line_items(
        "WorkOrderContract", "work_order_contracts", show=False
    ),
    "GET /rest/v1.0/work_order_contracts/{work_order_contract_id}/line_items/{id}": _line_items(
        "WorkOrderContract", "work_order_contracts", show=True
    ),
    "GET /rest/v1.0/purchase_order_contracts/{purchase_order_contract_id}/line_items": _line_items(
        "PurchaseOrderContract", "purchase_order_contracts", show=False
    ),
    "GET /rest/v1.0/purchase_order_contracts/{purchase_order_contract_id}/line_items/{id}": _line_items(
        "PurchaseOrderContract", "purchase_order_contracts", show=True
    ),
    "GET /rest/v1.0/cost_codes": lambda s, c: ("GET", "/rest/v1.0/cost_codes", {"project_id": min(s.projects)}, None),
    "GET /rest/v1.0/projects/{project_id}/commitment_change_orders": lambda s, c: (
        "GET", f"/rest/v1.0/projects/{_change_order(s)['project_id']}/commitment_change_orders", {}, None,
    ),
    "GET /rest/v1.0/projects/{project_id}/commitment_change_orders/{id}": lambda s, c: (
        "GET",
        f"/rest/v1.0/projects/{_change_order(s)['project_id']}/commitment_change_orders/{_change_order(s)['id']}",
        {},
        None,
    ),
}  # fmt: skip


def _cases() -> list[Any]:
    cases = []
    for key, table in VIEW_TABLES.items():
        for view in (None, *table.views):
            cases.append(pytest.param(key, view, id=f"{key} view={view or '(none)'}"))
    return cases


def _full_view(table: ViewTable) -> str:
    return next(name for name, view in table.views.items() if view.only is None and not view.without and not view.ids)


def _records(body: Any) -> list[Any]:
    return body if isinstance(body, list) else [body]


def _send(api: httpx.Client, operation: str, call: Call, view: str | None) -> httpx.Response:
    """``call`` asking for ``view`` (no view parameter for None or a name outside the enum, like a default)."""
    method, url, params, body = call
    enum = load_spec().operations[operation].query["view"]["schema"]["enum"]
    return api.request(method, url, params={**params, **({"view": view} if view in enum else {})}, json=body)


@pytest.mark.parametrize(("operation", "view"), _cases())
def test_view_returns_exactly_its_attribute_set(
    api: httpx.Client, base_url: str, state, company_id: int, operation: str, view: str | None
) -> None:
    table = VIEW_TABLES[operation]
    if operation not in CALLS:
        method, path = operation.split(" ", 1)
        concrete = path.replace("{company_id}", str(company_id)).replace("{", "").replace("}", "")
        answered = api.request(method, concrete)
        assert answered.status_code in (404, 405), f"{operation} is served: give it a request builder in CALLS"
        return
    call = CALLS[operation](state, company_id)
    full = _send(api, operation, call, _full_view(table))
    assert full.status_code < 300, full.text
    httpx.post(f"{base_url}/_sandbox/reset", json={"dataset": "small", "seed": 1}).raise_for_status()
    answered = _send(api, operation, call, view)
    assert answered.status_code < 300, answered.text
    expected_view = table.resolve(view)
    records, full_records = _records(answered.json()), _records(full.json())
    assert records, f"{operation}: nothing returned to check"
    if expected_view.ids:
        assert records == [record["id"] for record in full_records]
        return
    for record, full_record in zip(records, full_records, strict=True):
        assert set(record) == {name for name in full_record if expected_view.allows(name)}
        assert "id" in record


def test_every_operation_with_a_view_parameter_has_a_table_naming_each_view() -> None:
    spec = load_spec()
    with_view = {key for key, operation in spec.operations.items() if "view" in operation.query}
    assert set(VIEW_TABLES) == with_view
    for key in with_view:
        enum = spec.operations[key].query["view"]["schema"]["enum"]
        table = VIEW_TABLES[key]
        assert set(table.views) - {table.default} <= set(enum), key
        assert set(enum) <= set(table.views), f"{key}: views {sorted(set(enum) - set(table.views))} have no entry"
        assert all(view.source for view in table.views.values())
