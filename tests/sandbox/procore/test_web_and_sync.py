"""The other sync actions answer entities/errors, and the human pages show records."""

from __future__ import annotations

import httpx


def test_sync_actions_for_projects_commitments_cost_codes_and_direct_costs(
    api: httpx.Client,
    company_id: int,
    state,
) -> None:
    project_id = next(iter(state.projects))
    vendor_id = next(iter(state.vendors))
    calls = [
        ("/rest/v1.0/projects/sync", {"company_id": company_id, "updates": [{"id": project_id, "origin_id": "p-1"}]}),
        (
            "/rest/v1.0/work_order_contracts/sync",
            {"project_id": project_id, "updates": [{"origin_id": "w-1", "title": "Sync WO", "vendor_id": vendor_id}]},
        ),
        (f"/rest/v1.0/cost_codes/sync?project_id={project_id}", {"updates": [{"code": "99-500", "name": "Extra"}]}),
        (
            f"/rest/v1.0/projects/{project_id}/direct_costs/sync",
            {"updates": [{"invoice_number": "S-1", "vendor_id": vendor_id, "direct_cost_type": "invoice"}, {"id": 1}]},
        ),
    ]
    for url, body in calls:
        response = api.patch(url, json=body)
        assert response.status_code == 200, (url, response.text)
        assert len(response.json()["entities"]) == 1, (url, response.json())
    assert response.json()["errors"][0]["errors"] == {"id": ["Entity with this ID not found"]}
    assert state.projects[project_id]["origin_id"] == "p-1"


def test_human_pages(base_url: str, company_id: int, state) -> None:
    vendor = next(iter(state.vendors.values()))
    page = httpx.get(f"{base_url}/{company_id}/company/vendors/{vendor['id']}")
    assert page.status_code == 200 and vendor["name"] in page.text
    commitment = next(iter(state.commitments.values()))
    kind = "work_order" if commitment["type"] == "WorkOrderContract" else "purchase_order"
    url = f"{base_url}/{commitment['project_id']}/project/commitments/{kind}_contracts/{commitment['id']}"
    assert httpx.get(url).status_code == 200
    assert httpx.get(f"{base_url}/{commitment['project_id']}/project/home").status_code == 200
    assert httpx.get(f"{base_url}/{company_id}/company/vendors/1").status_code == 404
    assert httpx.get(f"{base_url}/nowhere/at/all").status_code == 404
