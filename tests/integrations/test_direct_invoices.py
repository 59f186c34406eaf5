"""Direct invoices (Xero bills coded to a project → Procore direct costs), end to end on the sandboxes."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.integrations.apis import procore_api, xero_api
from trestle.cli import run_flow
from trestle.db import make_engine
from trestle.flows import get_flow
from trestle.integrations.direct_cost_writer import part_key
from trestle.integrations.direct_invoices import net_line_amount, split_targets
from trestle.models.links import LinkRow
from trestle.models.store import LinkStore
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


def project_names(store: LinkStore) -> dict[int, str]:
    """Procore project id → its Xero "Project" option name."""
    return {int(link.procore_id): link.last_payload["Name"] for link in store.links("project")}


def parts_of(costs: dict[str, dict[str, Any]], invoice_id: str) -> dict[int, dict[str, Any]]:
    """The live direct costs of one bill, by project."""
    return {cost["project_id"]: cost for key, cost in costs.items() if key.split("@")[0] == invoice_id}


def only_part(costs: dict[str, dict[str, Any]], invoice_id: str) -> dict[str, Any]:
    (cost,) = parts_of(costs, invoice_id).values()
    return cost


def cost_code_option(line: dict[str, Any]) -> str | None:
    return next((t["Option"] for t in line.get("Tracking", []) if t["Name"] == "Cost Code"), None)


def project_option(line: dict[str, Any]) -> str | None:
    return next((t["Option"] for t in line.get("Tracking", []) if t["Name"] == "Project"), None)


def expected_lines(bill: dict[str, Any], project: str) -> dict[str, Decimal]:
    """Net amounts per Cost Code option name over the bill's lines coded to ``project``."""
    totals: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for line in bill["LineItems"]:
        if project_option(line) == project:
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
    named = project_names(store)
    parts = {(i, project): dc for i, link in links.items() for project, dc in split_targets(link.procore_id).items()}
    assert len(links) == dry["created"] and len(parts) == len(costs), "every part once, none twice"
    for (invoice_id, project_id), direct_cost_id in parts.items():
        bill, cost = bills[invoice_id], parts_of(costs, invoice_id)[project_id]
        split_bill = len(split_targets(links[invoice_id].procore_id)) > 1
        assert cost["origin_id"] == (part_key(invoice_id, project_id) if split_bill else invoice_id)
        assert (cost["project_id"], cost["id"]) == (project_id, direct_cost_id)
        assert bill["Status"] in ("AUTHORISED", "PAID")
        assert cost["direct_cost_type"] == "invoice" and cost["status"] == "approved"
        assert cost["invoice_number"] == bill["InvoiceNumber"]
        assert cost["vendor"]["id"] == vendors[bill["Contact"]["ContactID"]]
        payload = links[invoice_id].last_payload
        assert cost["direct_cost_date"] == (payload["parts"][0] if split_bill else payload)["direct_cost_date"]
        want = expected_lines(bill, named[project_id])
        assert procore_lines(cost, names) == want, "one line per cost code, net of tax, to the cent"
        assert (cost["payment_date"] is not None) == (bill["Status"] == "PAID")
    assert not parts_of(costs, from_procore["InvoiceID"]), "a bill Trestle wrote from Procore is never sent back"
    assert not any(bills[i]["Status"] == "DRAFT" for i, _ in parts), "draft bills are not costs yet"

    issues = {issue.record_id: issue.code for issue in store.open_issues(integration=NAME)}
    # Paths the small dataset plants: a bill coded to two projects, a bill paid in three parts.
    numbered = {bill["InvoiceNumber"].split("-")[0]: invoice_id for invoice_id, bill in bills.items()}
    split = parts_of(costs, numbered["TWO"])
    assert len(split) == 2 and numbered["TWO"] not in issues, "a bill coded to two projects is two direct costs"
    project_lines = [line for line in bills[numbered["TWO"]]["LineItems"] if project_option(line)]
    net = sum(
        net_line_amount(LineItem.model_validate(line), bills[numbered["TWO"]]["LineAmountTypes"])
        for line in project_lines
    )
    assert sum(Decimal(str(cost["grand_total"])) for cost in split.values()) == net, "the parts add up to the bill"
    paid_in_parts = only_part(costs, numbered["PARTS"])
    assert bills[numbered["PARTS"]]["Status"] == "PAID" and paid_in_parts["payment_date"] is not None
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


def project_code_options(store: LinkStore, env: dict[str, str]) -> dict[str, set[str]]:
    """Xero project option name → the "Cost Code" option names that project uses."""
    projects = project_ids(store)
    names = code_option_names(store, env, projects)
    used: dict[str, set[str]] = {}
    with procore_api(env) as api:
        for project_id, name in project_names(store).items():
            codes = api.get("/rest/v1.0/cost_codes", params={"project_id": project_id, "per_page": 1000}).json()
            used[name] = {names[code["id"]] for code in codes if code["id"] in names}
    return used


def test_changes_voids_and_new_bills_in_xero_reach_procore(trestle_env: dict[str, str]) -> None:
    link_prerequisites()
    run()
    store = store_for(trestle_env)
    first_link = store.links("direct_cost")[0]
    model = xero_bills(trestle_env)[first_link.xero_id]
    template = next(line for line in model["LineItems"] if cost_code_option(line))
    tracking = [{"Name": t["Name"], "Option": t["Option"]} for t in template["Tracking"]]
    code = next(t["Option"] for t in tracking if t["Name"] == "Cost Code")
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
        created = xero.post(
            "/Invoices", json={"Invoices": [bill(contact, "INC-1", inclusive_lines, LineAmountTypes="Inclusive")]}
        )
        assert created.status_code == 200, created.text
        inclusive_id = created.json()["Invoices"][0]["InvoiceID"]

    assert run()["failed"] == 0

    projects = project_ids(store)
    costs = direct_costs(trestle_env, projects)
    names = code_option_names(store, trestle_env, projects)
    after = {link.xero_id: link for link in store.links("direct_cost")}
    assert only_part(costs, to_pay)["payment_date"] == "2026-10-05"
    assert after[to_pay].procore_id == links[to_pay].procore_id, "a header change keeps the same direct cost"
    assert after[to_recode].procore_id == links[to_recode].procore_id, "a line change keeps the same direct cost"
    assert procore_lines(only_part(costs, to_recode), names) == {code: Decimal("1234.57")}
    assert not parts_of(costs, to_void), "a voided bill no longer counts as job cost"
    inclusive = only_part(costs, inclusive_id)
    assert procore_lines(inclusive, names) == {code: Decimal("100.00") + Decimal("50.50")}, "net of tax, overhead out"
    assert inclusive["direct_cost_date"] == str(date(2026, 10, 2))
    origins = [key for key in costs if not key.startswith("no-origin:")]
    assert len(origins) == len(costs), "no direct cost left unlocked"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the link store is the same on both
def test_a_bill_coded_to_two_projects_is_one_direct_cost_per_project(trestle_env: dict[str, str]) -> None:
    """Split, edited (a line moves, an amount changes), narrowed to one project, then voided."""
    link_prerequisites()
    run()
    store = store_for(trestle_env)
    model = xero_bills(trestle_env)[store.links("direct_cost")[0].xero_id]
    template = next(line for line in model["LineItems"] if cost_code_option(line))
    here = [{"Name": t["Name"], "Option": t["Option"]} for t in template["Tracking"]]
    here_name = next(t["Option"] for t in here if t["Name"] == "Project")
    code = next(t["Option"] for t in here if t["Name"] == "Cost Code")
    there_name = next(
        name for name, codes in project_code_options(store, trestle_env).items() if name != here_name and code in codes
    )
    there = [{"Name": "Project", "Option": there_name}, {"Name": "Cost Code", "Option": code}]
    by_name = {name: project_id for project_id, name in project_names(store).items()}
    here_id, there_id = by_name[here_name], by_name[there_name]
    line = {"Description": "Steel", "Quantity": 1, "AccountCode": "320", "TaxType": "INPUT"}
    contact = {"ContactID": model["Contact"]["ContactID"]}
    lines = [
        {**line, "UnitAmount": 10.01, "Tracking": here},
        {**line, "UnitAmount": 20.02, "Tracking": there},
        {**line, "UnitAmount": 5.05, "Tracking": here},
        {**line, "Description": "Office", "UnitAmount": 7},
    ]
    with xero_api(trestle_env) as xero:
        made = xero.post("/Invoices", json={"Invoices": [bill(contact, "SPLIT-1", lines)]})
        assert made.status_code == 200, made.text
        invoice_id = made.json()["Invoices"][0]["InvoiceID"]

    def state() -> tuple[dict[int, Decimal], dict[int, int]]:
        costs = parts_of(direct_costs(trestle_env, project_ids(store)), invoice_id)
        (link,) = (link for link in store.links("direct_cost") if link.xero_id == invoice_id)
        totals = {project_id: Decimal(str(cost["grand_total"])) for project_id, cost in costs.items()}
        assert split_targets(link.procore_id) == {project_id: cost["id"] for project_id, cost in costs.items()}
        return totals, split_targets(link.procore_id)

    assert run()["failed"] == 0
    totals, first = state()
    assert totals == {here_id: Decimal("15.06"), there_id: Decimal("20.02")}, "each project its own lines, overhead out"

    def edit(new_lines: list[dict[str, Any]]) -> None:
        with xero_api(trestle_env) as xero:
            edited = xero.post("/Invoices", json={"Invoices": [{"InvoiceID": invoice_id, "LineItems": new_lines}]})
            assert edited.status_code == 200, edited.text
        assert run()["failed"] == 0

    edit([{**lines[0], "UnitAmount": 12.34}, lines[1], {**lines[2], "Tracking": there}, lines[3]])
    totals, moved = state()
    assert totals == {here_id: Decimal("12.34"), there_id: Decimal("25.07")}, "moved line and new amount, once each"
    assert moved == first, "both parts updated in place"

    edit([{**lines[0], "Tracking": there}, lines[1]])
    totals, narrowed = state()
    assert totals == {there_id: Decimal("30.03")}, "the project that dropped out has its part removed"
    assert narrowed == {there_id: first[there_id]}

    writes_before = procore_writes(trestle_env)
    assert run(full_refresh=True)["unchanged"] >= 1
    assert procore_writes(trestle_env) == writes_before, "an unchanged split bill writes nothing"

    with xero_api(trestle_env) as xero:
        voided = xero.post("/Invoices", json={"Invoices": [{"InvoiceID": invoice_id, "Status": "VOIDED"}]})
        assert voided.status_code == 200, voided.text
    assert run()["failed"] == 0
    assert not parts_of(direct_costs(trestle_env, project_ids(store)), invoice_id), "a voided bill's parts are removed"
