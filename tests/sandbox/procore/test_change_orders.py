"""Commitment change orders in the Procore sandbox: list filters, show lines, strict paging, totals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx


def _seeded(state: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    ordered = sorted(state.change_orders.values(), key=lambda co: co["id"])
    approved = next(co for co in ordered if co["status"] == "approved")
    pending = next(co for co in ordered if co["status"] == "pending" and co["contract_id"] == approved["contract_id"])
    return approved, pending


def test_list_filters_by_status_contract_and_updated_at_and_show_adds_lines(
    api: httpx.Client, base_url: str, state: Any
) -> None:
    approved, pending = _seeded(state)
    route = f"/rest/v1.0/projects/{approved['project_id']}/commitment_change_orders"

    everything = api.get(route)
    assert everything.status_code == 200 and "Link" not in everything.headers, "one unpaged array"
    assert {approved["id"], pending["id"]} <= {co["id"] for co in everything.json()}
    assert all("line_items" not in co for co in everything.json()), "the list carries no lines"

    only_approved = {co["id"] for co in api.get(route, params={"filters[status]": "approved"}).json()}
    assert approved["id"] in only_approved and pending["id"] not in only_approved
    of_contract = api.get(route, params={"filters[contract_id]": approved["contract_id"]}).json()
    assert {co["contract_id"] for co in of_contract} == {approved["contract_id"]}

    shown = api.get(f"{route}/{approved['id']}").json()
    assert shown["status"] == "approved" and shown["number"] == "CO-001"
    assert [line["amount"] for line in shown["line_items"]] == [str(approved["line_items"][0]["amount"])]
    assert shown["line_items"][0]["cost_code"]["id"] == approved["line_items"][0]["cost_code_id"]

    since = api.get(route, params={"filters[updated_at]": "2099-01-01T00:00:00Z...2099-12-31T00:00:00Z"}).json()
    assert since == []
    approved_now = httpx.post(
        f"{base_url}/_sandbox/procore/change_orders/{pending['id']}/status", json={"status": "approved"}
    )
    assert approved_now.status_code == 200 and approved_now.json()["reviewed_at"]
    changed = api.get(route, params={"filters[updated_at]": f"{approved_now.json()['updated_at']}...2099-01-01"})
    assert [co["id"] for co in changed.json()] == [pending["id"]]

    assert api.get(f"{route}/1").status_code == 404


def test_strict_mode_refuses_paging_the_change_order_list(api: httpx.Client, state: Any) -> None:
    approved, _ = _seeded(state)
    route = f"/rest/v1.0/projects/{approved['project_id']}/commitment_change_orders"
    refused = api.get(route, params={"page": 1, "per_page": 100})
    assert refused.status_code == 400 and "undocumented query parameter 'page'" in refused.json()["errors"]
    assert api.get(route, params={"filters[status]": "accepted"}).status_code == 400, "status outside the enum"


def test_commitment_totals_and_claim_summary_count_approved_change_orders(api: httpx.Client, state: Any) -> None:
    approved, pending = _seeded(state)
    commitment = state.commitments[approved["contract_id"]]
    resource = "work_order_contracts" if commitment["type"] == "WorkOrderContract" else "purchase_order_contracts"
    shown = api.get(f"/rest/v1.0/{resource}/{commitment['id']}", params={"project_id": commitment["project_id"]})
    body = shown.json()
    grand_total = sum((line["amount"] for line in commitment["line_items"]), Decimal(0))
    approved_total, pending_total = (co["line_items"][0]["amount"] for co in (approved, pending))
    assert Decimal(body["approved_change_orders"]) == approved_total
    assert Decimal(body["pending_change_orders"]) == pending_total
    assert Decimal(body["revised_contract"]) == grand_total + approved_total

    claims = api.get("/rest/v1.1/requisitions", params={"project_id": commitment["project_id"], "view": "items"}).json()
    billing = next(c for c in claims if any(item["item_type"] == "change_order_item" for item in c["items"]))
    item = next(item for item in billing["items"] if item["item_type"] == "change_order_item")
    assert item["cost_code_id"] == approved["line_items"][0]["cost_code_id"]
    assert item["description_of_work"] == approved["line_items"][0]["description"]
    assert Decimal(billing["summary"]["net_change_by_change_orders"]) == approved_total
