"""A night's new bills go to Procore three calls a project; a bill Procore refuses fails alone and
leaves nothing half-written, while the rest of its batch is written and linked."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import httpx
import pytest

from tests.integrations.test_direct_invoices import (
    cost_code_option,
    direct_costs,
    link_prerequisites,
    project_ids,
    project_names,
    project_option,
    run,
    store_for,
    xero_bills,
)
from trestle.integrations.direct_invoices import split_targets

MISSING_VENDOR = "999999999"


def procore_requests(env: dict[str, str]) -> dict[str, int]:
    return httpx.get(f"{env['TRESTLE_PROCORE_API_URL']}/_sandbox/stats").json()["requests"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_new_bills_take_three_syncs_a_project_and_a_refused_one_fails_alone(trestle_env: dict[str, str]) -> None:
    link_prerequisites()
    store = store_for(trestle_env)
    vendors = {link.xero_id: link for link in store.links("vendor")}
    projects_named = set(project_names(store).values())
    coded = [  # bills the run would write: approved, numbered, every project line coded to a linked project
        bill
        for bill in xero_bills(trestle_env).values()
        if bill["Status"] == "AUTHORISED"
        and bill.get("InvoiceNumber")
        and bill["Contact"]["ContactID"] in vendors
        and any(project_option(line) for line in bill["LineItems"])
        and all(
            project_option(line) in projects_named and cost_code_option(line)
            for line in bill["LineItems"]
            if project_option(line)
        )
    ]
    contact_id = Counter(bill["Contact"]["ContactID"] for bill in coded).most_common(1)[0][0]
    broken = vendors[contact_id]
    store.delete_link("vendor", procore_id=broken.procore_id)  # now a vendor Procore no longer has
    store.save_links([replace(broken, procore_id=MISSING_VENDOR)])
    before = procore_requests(trestle_env)

    summary = run()
    after = procore_requests(trestle_env)
    calls = {route: count - before.get(route, 0) for route, count in after.items() if count != before.get(route, 0)}
    projects = project_ids(store)
    costs = direct_costs(trestle_env, projects)
    links = store.links("direct_cost")
    written_projects = {project for link in links for project in split_targets(link.procore_id)}

    assert summary["created"] == len(links) > 0 and summary["failed"] >= 1, summary
    rejected = [i for i in store.open_issues(integration="direct_invoices") if i.code == "direct_cost.write_rejected"]
    assert len(rejected) == summary["failed"] and all("vendor" in issue.message for issue in rejected)
    failed_bills = {bill["InvoiceID"] for bill in coded if bill["Contact"]["ContactID"] == contact_id}
    assert not failed_bills & {link.xero_id for link in links}, "the refused supplier's bills are not linked"
    assert not [route for route in calls if route.startswith("POST /rest/v1.0/projects/{project_id}/direct_costs")]
    line_syncs = calls["PATCH /rest/v1.0/projects/{project_id}/direct_costs/line_items/sync"]
    assert len(written_projects) <= line_syncs <= len(projects)
    assert calls["PATCH /rest/v1.0/projects/{project_id}/direct_costs/sync"] <= 2 * line_syncs + 1
    assert calls["GET /rest/v1.0/line_item_types"] == 1, "the cost type is read once a run"

    assert all(cost["origin_id"] for cost in costs.values()), "nothing half-written is left"
    linked_ids = {dc for link in links for dc in split_targets(link.procore_id).values()}
    assert {cost["id"] for cost in costs.values()} == linked_ids, "every direct cost linked, none twice"
    lines = [line["origin_id"] for cost in costs.values() for line in cost["line_items"]]
    assert lines and len(lines) == len(set(lines)), "each line once"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_without_the_cost_type_new_bills_go_bill_by_bill_and_all_land(
    trestle_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    link_prerequisites()
    monkeypatch.setenv("TRESTLE_SYNC_DIRECT_COST_COST_TYPE", "NOPE")
    before = procore_requests(trestle_env)
    summary = run()
    after = procore_requests(trestle_env)
    store = store_for(trestle_env)
    links = store.links("direct_cost")
    costs = direct_costs(trestle_env, project_ids(store))

    assert summary["created"] == len(links) > 0 and summary["failed"] == 0, summary
    headers = "POST /rest/v1.0/projects/{project_id}/direct_costs"
    assert after[headers] - before.get(headers, 0) == sum(len(split_targets(link.procore_id)) for link in links)
    assert "line_items/sync" not in " ".join(route for route in after if after[route] != before.get(route, 0))
    assert any("no cost type with code 'NOPE'" in record.getMessage() for record in caplog.records)
    assert {cost["id"] for cost in costs.values()} == {
        dc for link in links for dc in split_targets(link.procore_id).values()
    }
    assert all(cost["origin_id"] for cost in costs.values())
