"""Commitment change orders, end to end on the sandboxes: on the purchase order, once, and on claims."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import httpx

from tests.integrations.apis import procore_api, xero_api
from trestle.cli import run_flow
from trestle.db import make_engine
from trestle.flows import get_flow
from trestle.models.store import LinkStore

CENT = Decimal("0.01")
WRITES = ("POST ", "PUT ", "PATCH ", "DELETE ")


def run(name: str = "commitments", **params: Any) -> dict[str, Any]:
    params.setdefault("notify", False)
    return run_flow(get_flow(name), **params)["integrations"][name]


def store(env: dict[str, str]) -> LinkStore:
    return LinkStore(make_engine(env["TRESTLE_DATABASE_URL"]), "default")


def xero_writes(env: dict[str, str]) -> Counter[str]:
    """Writes the Xero sandbox has answered, by route (control plane and token calls left out)."""
    requests = httpx.get(f"{env['TRESTLE_XERO_API_URL']}/_sandbox/stats").json()["requests"]
    return Counter(
        {
            route: count
            for route, count in requests.items()
            if route.startswith(WRITES) and "/_sandbox" not in route and "/connect" not in route
        }
    )


def change_orders(env: dict[str, str]) -> list[dict[str, Any]]:
    """Every change order of the linked projects, shown (with lines), with its project id."""
    found = []
    with procore_api(env) as api:
        for link in store(env).links("project"):
            route = f"/rest/v1.0/projects/{link.procore_id}/commitment_change_orders"
            for listed in api.get(route).json():
                shown = api.get(f"{route}/{listed['id']}").json()
                found.append({**shown, "project_id": int(link.procore_id)})
    return found


def commitment(env: dict[str, str], project_id: int, commitment_id: int) -> dict[str, Any]:
    """The commitment shown by Procore (either kind), with its change order totals."""
    with procore_api(env) as api:
        for kind in ("work_order", "purchase_order"):
            shown = api.get(f"/rest/v1.0/{kind}_contracts/{commitment_id}", params={"project_id": project_id})
            if shown.status_code == 200:
                body: dict[str, Any] = shown.json()
                return body
    raise AssertionError(f"commitment {commitment_id} not found")


def set_status(env: dict[str, str], change_order_id: int, status: str) -> None:
    """A reviewer moves the change order in Procore (the sandbox's control plane)."""
    url = f"{env['TRESTLE_PROCORE_API_URL']}/_sandbox/procore/change_orders/{change_order_id}/status"
    httpx.post(url, json={"status": status}).raise_for_status()


def purchase_order(env: dict[str, str], order_id: str) -> dict[str, Any]:
    with xero_api(env) as xero:
        order: dict[str, Any] = xero.get(f"/PurchaseOrders/{order_id}").json()["PurchaseOrders"][0]
        return order


def money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def anchor(env: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The seeded approved and pending change orders of one commitment Trestle sends."""
    seeded = change_orders(env)
    approved = next(co for co in seeded if co["status"] == "approved" and co["number"] == "CO-001")
    pending = next(co for co in seeded if co["status"] == "pending" and co["contract_id"] == approved["contract_id"])
    return approved, pending


def cost_code_option(env: dict[str, str], project_id: int, cost_code_id: int) -> str:
    by_standard = {int(link.procore_id): link.last_payload["Name"] for link in store(env).links("cost_code")}
    with procore_api(env) as api:
        code = api.get(f"/rest/v1.0/cost_codes/{cost_code_id}", params={"project_id": project_id}).json()
    return by_standard[code["standard_cost_code_id"]]


def test_approved_change_orders_ride_on_their_order_and_a_later_approval_updates_it_once(
    trestle_env: dict[str, str],
) -> None:
    for name in ("vendors", "projects", "cost_codes"):
        run(name)
    approved, pending = anchor(trestle_env)
    project_id, commitment_id = approved["project_id"], approved["contract_id"]
    first = run()
    assert first["failed"] == 0
    links = {link.procore_id: link.xero_id for link in store(trestle_env).links("commitment")}
    order = purchase_order(trestle_env, links[str(commitment_id)])
    shown = commitment(trestle_env, project_id, commitment_id)
    co_line = approved["line_items"][0]
    assert money(shown["approved_change_orders"]) == money(co_line["amount"])
    assert money(order["SubTotal"]) == money(shown["revised_contract"]), "commitment + approved change orders"
    assert len(order["LineItems"]) == len(shown["line_items"]) + 1, "the pending change order is left out"
    added = order["LineItems"][-1]
    assert added["Description"].startswith(f"CO-001 - {approved['title']} - ")
    assert money(added["LineAmount"]) == money(co_line["amount"])
    tracking = {t["Name"]: t["Option"] for t in added["Tracking"]}
    assert tracking["Cost Code"] == cost_code_option(trestle_env, project_id, co_line["cost_code"]["id"])
    assert not any(pending["title"] in line["Description"] for line in order["LineItems"])

    before = xero_writes(trestle_env)
    set_status(trestle_env, pending["id"], "approved")
    second = run()
    assert (second["created"], second["updated"]) == (0, 1)
    assert xero_writes(trestle_env) - before == Counter({"POST /api.xro/2.0/PurchaseOrders": 1})
    order = purchase_order(trestle_env, links[str(commitment_id)])
    shown = commitment(trestle_env, project_id, commitment_id)
    assert money(order["SubTotal"]) == money(shown["revised_contract"])
    assert order["LineItems"][-1]["Description"].startswith(f"CO-002 - {pending['title']} - ")

    third = run()
    assert (third["created"], third["updated"]) == (0, 0)
    assert xero_writes(trestle_env) - before == Counter({"POST /api.xro/2.0/PurchaseOrders": 1}), "nothing new"


def test_a_change_order_on_a_billed_order_is_an_issue_and_changes_nothing(trestle_env: dict[str, str]) -> None:
    for name in ("vendors", "projects", "cost_codes"):
        run(name)
    approved, pending = anchor(trestle_env)
    run()
    order_id = next(
        link.xero_id
        for link in store(trestle_env).links("commitment")
        if link.procore_id == str(approved["contract_id"])
    )
    with xero_api(trestle_env) as xero:
        billed = xero.post(f"/PurchaseOrders/{order_id}", json={"PurchaseOrders": [{"Status": "BILLED"}]})
        billed.raise_for_status()
    lines_before = purchase_order(trestle_env, order_id)["LineItems"]
    before = xero_writes(trestle_env)
    set_status(trestle_env, pending["id"], "approved")

    second = run()
    issues = {issue.record_id: issue for issue in store(trestle_env).open_issues(integration="commitments")}
    issue = issues[str(approved["contract_id"])]
    assert issue.code == "commitment.change_order_on_billed_order"
    assert "CO-002" in issue.message and "BILLED" in issue.message
    assert second["updated"] == 0 and xero_writes(trestle_env) == before, "the billed order is not written"
    assert purchase_order(trestle_env, order_id)["LineItems"] == lines_before


def test_a_claim_billing_change_order_items_carries_them_into_its_bill(trestle_env: dict[str, str]) -> None:
    for name in ("vendors", "projects", "cost_codes"):
        run(name)
    with procore_api(trestle_env) as api:
        claims = [
            claim
            for link in store(trestle_env).links("project")
            for claim in api.get(
                "/rest/v1.1/requisitions", params={"project_id": link.procore_id, "per_page": 1000, "view": "items"}
            ).json()
        ]
    claim = next(c for c in claims if any(item["item_type"] == "change_order_item" for item in c["items"]))
    co_item = next(item for item in claim["items"] if item["item_type"] == "change_order_item")
    assert money(co_item["work_completed_this_period"]) > 0

    result = run("progress_claims")
    assert result["failed"] == 0
    bill_id = next(
        link.xero_id for link in store(trestle_env).links("progress_claim") if link.procore_id == str(claim["id"])
    )
    with xero_api(trestle_env) as xero:
        bill = xero.get(f"/Invoices/{bill_id}").json()["Invoices"][0]
    option = cost_code_option(trestle_env, claim["project_id"], co_item["cost_code_id"])
    expected = sum(
        (money(item["net_amount"]) for item in claim["items"] if item["cost_code_id"] == co_item["cost_code_id"]),
        Decimal(0),
    )
    billed = sum(
        (
            money(line["LineAmount"])
            for line in bill["LineItems"]
            if {t["Name"]: t["Option"] for t in line.get("Tracking", [])}.get("Cost Code") == option
        ),
        Decimal(0),
    )
    assert billed == expected, "the cost code's line includes the change order item"
    assert money(bill["SubTotal"]) == sum((money(item["net_amount"]) for item in claim["items"]), Decimal(0))
