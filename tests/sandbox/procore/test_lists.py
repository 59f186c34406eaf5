"""Pagination, filters and wire formats of list endpoints."""

from __future__ import annotations

import re

import httpx

LINK = re.compile(r'<([^>]+)>; rel="(\w+)"')


def _links(response: httpx.Response) -> dict[str, str]:
    return {rel: url for url, rel in LINK.findall(response.headers.get("Link", ""))}


def test_paging_to_the_end_by_link_next(api: httpx.Client, company_id: int, state) -> None:
    url: str | None = f"{api.base_url}/rest/v1.0/vendors?company_id={company_id}&per_page=7"
    seen: list[int] = []
    rels_per_page: list[set[str]] = []
    while url:
        response = api.get(url)
        assert response.status_code == 200
        assert response.headers["Per-Page"] == "7"
        total = int(response.headers["Total"])
        seen.extend(vendor["id"] for vendor in response.json())
        links = _links(response)
        assert all(link.startswith("http://") for link in links.values())
        rels_per_page.append(set(links))
        url = links.get("next")
    active = [v["id"] for v in state.vendors.values() if v["is_active"]]
    assert total == len(active) == len(seen) == len(set(seen)) and total > 14
    assert rels_per_page[0] == {"next", "last"}
    assert rels_per_page[1] == {"first", "next", "last"}
    assert rels_per_page[2] >= {"first", "prev", "last"}
    assert "next" not in rels_per_page[-1]
    assert all(vendor_id > 2**32 for vendor_id in seen)


def test_per_page_is_capped(api: httpx.Client, company_id: int) -> None:
    response = api.get("/rest/v1.0/vendors", params={"company_id": company_id, "per_page": 50_000})
    assert response.headers["Per-Page"] == "1000"


def test_updated_at_range_and_origin_id_filters(api: httpx.Client, company_id: int, state) -> None:
    vendor = next(v for v in state.vendors.values() if v["is_active"])
    stamp = vendor["updated_at"]
    day = stamp.date().isoformat()
    params = {"company_id": company_id, "filters[updated_at]": f"{day}...{day}"}
    by_day = api.get("/rest/v1.0/vendors", params=params).json()
    expected = {v["id"] for v in state.vendors.values() if v["is_active"] and v["updated_at"].date() == stamp.date()}
    assert {v["id"] for v in by_day} == expected and vendor["id"] in expected

    exact = f"{stamp:%Y-%m-%dT%H:%M:%S}Z...{stamp:%Y-%m-%dT%H:%M:%S}Z"
    narrow = api.get("/rest/v1.0/vendors", params={"company_id": company_id, "filters[updated_at]": exact}).json()
    assert vendor["id"] in {v["id"] for v in narrow} and len(narrow) <= len(by_day)

    patched = api.patch(
        f"/rest/v1.0/vendors/{vendor['id']}",
        json={"company_id": company_id, "vendor": {"origin_id": "xero-contact-9"}},
    )
    assert patched.status_code == 200
    found = api.get("/rest/v1.0/vendors", params={"company_id": company_id, "filters[origin_id]": "xero-contact-9"})
    assert [v["id"] for v in found.json()] == [vendor["id"]]
    assert found.json()[0]["updated_at"].endswith("Z")

    ids = sorted(v["id"] for v in state.vendors.values() if v["is_active"])[:2]
    arrays = api.get(
        "/rest/v1.0/vendors", params=[("company_id", company_id), *[("filters[id][]", i) for i in ids]]
    ).json()
    assert sorted(v["id"] for v in arrays) == ids


def test_wire_formats_and_inactive_vendor_list(api: httpx.Client, company_id: int, state) -> None:
    commitment = next(c for c in state.commitments.values() if c["line_items"])
    resource = "work_order_contracts" if commitment["type"] == "WorkOrderContract" else "purchase_order_contracts"
    body = api.get(f"/rest/v1.0/{resource}/{commitment['id']}", params={"project_id": commitment["project_id"]}).json()
    assert re.fullmatch(r"-?\d+\.\d{2}", body["grand_total"])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", body["contract_date"])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", body["created_at"])
    inactive = api.get(f"/rest/v1.0/companies/{company_id}/vendors/inactive").json()
    assert inactive and all(vendor["is_active"] is False for vendor in inactive)
    listed = {v["id"] for v in api.get("/rest/v1.0/vendors", params={"company_id": company_id}).json()}
    assert not listed & {vendor["id"] for vendor in inactive}
    reactivated = api.patch(f"/rest/v1.0/companies/{company_id}/vendors/inactive/{inactive[0]['id']}")
    assert reactivated.status_code == 200 and reactivated.json()["is_active"] is True


def test_projects_by_stage_and_status(api: httpx.Client, company_id: int, state) -> None:
    stage = next(s for s in state.project_stages.values() if s["name"] == "Send to Xero")
    projects = api.get(
        "/rest/v1.1/projects",
        params={
            "company_id": company_id,
            "filters[by_stage]": stage["id"],
            "filters[by_status]": "All",
            "view": "normal",
        },
    ).json()
    expected = {p["id"] for p in state.projects.values() if p["project_stage_id"] == stage["id"]}
    assert {p["id"] for p in projects} == expected
    assert all(p["stage"] == "Send to Xero" and p["project_stage"]["id"] == stage["id"] for p in projects)
