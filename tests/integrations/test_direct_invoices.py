"""Direct invoices (Xero bills coded to a project → Procore direct costs), end to end on the sandboxes."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from tests.integrations.apis import procore_api, xero_api
from trestle.cli import run_flow
from trestle.db import make_engine
from trestle.flows import get_flow
from trestle.integrations.direct_invoices import net_line_amount, split_target
from trestle.models.store import LinkRow, LinkStore
from trestle.models.xero import LineItem

NAME = "direct_invoices"
CENT = Decimal("0.01")


def run(name: str = NAME, **params: Any) -> dict[str, Any]:
    params.setdefault("notify", False)
    return run_flow(get_flow(name), **params)["integrations"][name]


def link_prerequisites() -> None:
    for name in ("vendors", "projects", "cost_codes"):
        run(name)


def store_for(env: dict[str, str]) -> LinkStore:
    return LinkStore(make_engine(env["TRESTLE_DATABASE_URL"]), "default")


def procore_writes(env: dict[str, str]) -> int:
    stats = httpx.get(f"{env['TRESTLE_PROCORE_API_URL']}/_sandbox/stats").json()
    return sum(
        count
        for key, count in stats["requests"].items()
        if key.split(" ")[0] in {"POST", "PATCH", "DELETE"} and "/rest/" in key
    )


def xero_bills(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Every bill with its lines (Xero sends lines on paged reads)."""
    with xero_api(env) as xero:
        bills = xero.get("/Invoices", params={"where": 'Type=="ACCPAY"', "page": 1}).json()["Invoices"]
    return {bill["InvoiceID"]: bill for bill in bills}


def direct_costs(env: dict[str, str], project_ids: set[int]) -> dict[str, dict[str, Any]]:
    """Live direct costs of the projects with their lines, by origin_id."""
    found: dict[str, dict[str, Any]] = {}
    with procore_api(env) as api:
        for project_id in project_ids:
            listed = api.get(f"/rest/v1.1/projects/{project_id}/direct_costs", params={"per_page": 1000}).json()
            for item in listed:
                shown = api.get(f"/rest/v1.1/projects/{project_id}/direct_costs/{item['id']}").json()
                found[shown.get("origin_id") or f"no-origin:{item['id']}"] = {**shown, "project_id": project_id}
    return found


def project_ids(store: LinkStore) -> set[int]:
    return {int(link.procore_id) for link in store.links("project")}


def cost_code_option(line: dict[str, Any]) -> str | None:
    return next((t["Option"] for t in line.get("Tracking", []) if t["Name"] == "Cost Code"), None)


def project_option(line: dict[str, Any]) -> str | None:
    return next((t["Option"] for t in line.get("Tracking", []) if t["Name"] == "Project"), None)


def expected_lines(bill: dict[str, Any]) -> dict[str, Decimal]:
    """Net amounts per Cost Code option name over the bill's project lines."""
    totals: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for line in bill["LineItems"]:
        if project_option(line):
            amount = net_line_amount(LineItem.model_validate(line), bill["LineAmountTypes"])
            totals[cost_code_option(line) or ""] += amount
    return dict(totals)


def procore_lines(direct_cost: dict[str, Any], code_names: dict[int, str]) -> dict[str, Decimal]:
    return {
        code_names[line["cost_code"]["id"]]: Decimal(str(line["amount"])).quantize(CENT)
        for line in direct_cost["line_items"]
    }


def code_option_names(store: LinkStore, env: dict[str, str], projects: set[int]) -> dict[int, str]:
    """Project cost code id → the Xero "Cost Code" option name of its standard code."""
    by_standard = {int(link.procore_id): link.last_payload["Name"] for link in store.links("cost_code")}
    names: dict[int, str] = {}
    with procore_api(env) as api:
        for project_id in projects:
            codes = api.get("/rest/v1.0/cost_codes", params={"project_id": project_id, "per_page": 1000}).json()
            for code in codes:
                if code.get("standard_cost_code_id") in by_standard:
                    names[code["id"]] = by_standard[code["standard_cost_code_id"]]
    return names


def test_project_bills_become_one_direct_cost_each_and_a_rerun_writes_nothing(trestle_env: dict[str, str]) -> None:
    link_prerequisites()
    store = store_for(trestle_env)
    bills = xero_bills(trestle_env)
    coded = [b for b in bills.values() if any(project_option(line) for line in b["LineItems"])]
    from_procore = next(b for b in coded if b["Status"] in ("AUTHORISED", "PAID"))
    store.save_links([LinkRow("progress_claim", "999001", from_procore["InvoiceID"], None, {}, "from Procore")])

    writes_before = procore_writes(trestle_env)
    dry = run(dry_run=True)
    assert dry["created"] > 0
    assert procore_writes(trestle_env) == writes_before, "a dry run writes nothing"
    assert store.links("direct_cost") == []

    procore = trestle_env["TRESTLE_PROCORE_API_URL"]
    httpx.post(f"{procore}/_sandbox/faults", json={"lost_rate": 1.0, "seed": 3}).raise_for_status()
    lost = run()
    httpx.post(f"{procore}/_sandbox/faults", json={"lost_rate": 0.0}).raise_for_status()
    assert lost["failed"] == dry["created"], "every answer from Procore was lost"
    assert store.links("direct_cost") == []

    first = run()  # finds what the lost writes created (by origin_id) before sending anything new
    # the writes the lost run started are finished, and reported as created by this run
    assert first["created"] == dry["created"] and first["failed"] == 0
    assert "finished" in " ".join(first["notes"])
    projects = project_ids(store)
    costs = direct_costs(trestle_env, projects)
    names = code_option_names(store, trestle_env, projects)
    links = {link.xero_id: link for link in store.links("direct_cost")}
    vendors = {link.xero_id: int(link.procore_id) for link in store.links("vendor")}
    assert len(links) == dry["created"] == len(costs), "every bill once, none twice"
    for invoice_id, link in links.items():
        bill, cost = bills[invoice_id], costs[invoice_id]
        assert split_target(link.procore_id) == (cost["project_id"], cost["id"])
        assert bill["Status"] in ("AUTHORISED", "PAID")
        assert cost["direct_cost_type"] == "invoice" and cost["status"] == "approved"
        assert cost["invoice_number"] == bill["InvoiceNumber"]
        assert cost["vendor"]["id"] == vendors[bill["Contact"]["ContactID"]]
        assert cost["direct_cost_date"] == link.last_payload["direct_cost_date"]
        assert procore_lines(cost, names) == expected_lines(bill), "one line per cost code, net of tax, to the cent"
        assert (cost["payment_date"] is not None) == (bill["Status"] == "PAID")
    assert from_procore["InvoiceID"] not in costs, "a bill Trestle wrote from Procore is never sent back"
    assert not any(bills[i]["Status"] == "DRAFT" for i in costs), "draft bills are not costs yet"

    issues = {issue.record_id: issue.code for issue in store.open_issues(integration=NAME)}
    # Paths the small dataset plants: a bill coded to two projects, a bill paid in three parts.
    numbered = {bill["InvoiceNumber"].split("-")[0]: invoice_id for invoice_id, bill in bills.items()}
    assert issues[numbered["TWO"]] == "direct_cost.several_projects"
    assert bills[numbered["PARTS"]]["Status"] == "PAID" and costs[numbered["PARTS"]]["payment_date"] is not None
    assert "direct_cost.vendor_not_linked" in issues.values()
    assert "direct_cost.no_cost_code" in issues.values()
    for invoice_id, code in issues.items():
        bill = bills[invoice_id]
        if code == "direct_cost.vendor_not_linked":
            assert bill["Contact"]["ContactID"] not in vendors
        if code == "direct_cost.no_cost_code":
            assert any(project_option(line) and not cost_code_option(line) for line in bill["LineItems"])

    writes_before = procore_writes(trestle_env)
    again = run(full_refresh=True)
    assert again["created"] == again["updated"] == 0
    assert again["unchanged"] == len(links)
    assert procore_writes(trestle_env) == writes_before, "the second run wrote to Procore"


def bill(contact: dict[str, str], number: str, lines: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """An AUTHORISED bill as the Xero API takes it."""
    return {
        "Type": "ACCPAY",
        "Contact": contact,
        "InvoiceNumber": number,
        "Date": "2026-10-02",
        "DueDate": "2026-11-01",
        "Status": "AUTHORISED",
        "LineItems": lines,
    } | extra


def test_changes_voids_and_new_bills_in_xero_reach_procore(trestle_env: dict[str, str]) -> None:
    link_prerequisites()
    run()
    store = store_for(trestle_env)
    first_link = store.links("direct_cost")[0]
    model = xero_bills(trestle_env)[first_link.xero_id]
    template = next(line for line in model["LineItems"] if cost_code_option(line))
    tracking = [{"Name": t["Name"], "Option": t["Option"]} for t in template["Tracking"]]
    other_project = next(
        link.last_payload["Name"]
        for link in store.links("project")
        if link.last_payload["Name"] != tracking[0]["Option"]
    )
    contact = {"ContactID": model["Contact"]["ContactID"]}
    line = {"Description": "Timber", "Quantity": 1, "AccountCode": "320", "TaxType": "INPUT"}
    with xero_api(trestle_env) as xero:
        made = xero.post(
            "/Invoices",
            json={
                "Invoices": [
                    bill(contact, f"T-{n}", [{**line, "UnitAmount": 500, "Tracking": tracking}]) for n in range(3)
                ]
            },
        )
        assert made.status_code == 200, made.text
        to_pay, to_recode, to_void = (b["InvoiceID"] for b in made.json()["Invoices"])
    run()
    links = {link.xero_id: link for link in store.links("direct_cost")}
    assert {to_pay, to_recode, to_void} <= set(links)

    with xero_api(trestle_env) as xero:
        payment = {"Invoice": {"InvoiceID": to_pay}, "Account": {"Code": "090"}, "Date": "2026-10-05", "Amount": 550}
        paid = xero.put("/Payments", json={"Payments": [payment]})
        assert paid.status_code == 200, paid.text
        recoded = [
            {**line, "UnitAmount": 1000, "Tracking": tracking},
            {**line, "UnitAmount": 234.57, "Tracking": tracking},
        ]
        edited = xero.post("/Invoices", json={"Invoices": [{"InvoiceID": to_recode, "LineItems": recoded}]})
        assert edited.status_code == 200, edited.text
        voided = xero.post("/Invoices", json={"Invoices": [{"InvoiceID": to_void, "Status": "VOIDED"}]})
        assert voided.status_code == 200, voided.text
        inclusive_lines = [  # two lines on one cost code and an overhead line
            {**line, "UnitAmount": 110, "Tracking": tracking},
            {**line, "UnitAmount": 55.55, "Tracking": tracking},
            {**line, "Description": "Office", "UnitAmount": 99},
        ]
        two_projects = [
            {**line, "UnitAmount": 10, "Tracking": tracking},
            {**line, "UnitAmount": 20, "Tracking": [{"Name": "Project", "Option": other_project}]},
        ]
        new = [
            bill(contact, "INC-1", inclusive_lines, LineAmountTypes="Inclusive"),
            bill(contact, "TWO-1", two_projects),
        ]
        created = xero.post("/Invoices", json={"Invoices": new})
        assert created.status_code == 200, created.text
        new_ids = {item["InvoiceNumber"]: item["InvoiceID"] for item in created.json()["Invoices"]}

    assert run()["failed"] == 0

    projects = project_ids(store)
    costs = direct_costs(trestle_env, projects)
    names = code_option_names(store, trestle_env, projects)
    after = {link.xero_id: link for link in store.links("direct_cost")}
    code = tracking[1]["Option"]
    assert costs[to_pay]["payment_date"] == "2026-10-05"
    assert after[to_pay].procore_id == links[to_pay].procore_id, "a header change keeps the same direct cost"
    assert procore_lines(costs[to_recode], names) == {code: Decimal("1234.57")}
    assert to_void not in costs, "a voided bill no longer counts as job cost"
    inclusive = costs[new_ids["INC-1"]]
    assert procore_lines(inclusive, names) == {code: Decimal("100.00") + Decimal("50.50")}, "net of tax, overhead out"
    assert inclusive["direct_cost_date"] == str(date(2026, 10, 2))
    assert new_ids["TWO-1"] not in costs
    issues = {issue.record_id: issue.code for issue in store.open_issues(integration=NAME)}
    assert issues[new_ids["TWO-1"]] == "direct_cost.several_projects"
    origins = [key for key in costs if not key.startswith("no-origin:")]
    assert len(origins) == len(costs), "no direct cost left unlocked"
