"""Write rules: sync actions, ERP locks, commitment freezes, payments, invoice maths, lost responses."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import httpx

CENT = Decimal("0.01")


def _resource(commitment: dict) -> str:
    return "work_order_contracts" if commitment["type"] == "WorkOrderContract" else "purchase_order_contracts"


def test_vendor_sync_creates_updates_and_reports_errors_in_one_batch(
    api: httpx.Client,
    company_id: int,
    state,
) -> None:
    existing = next(v for v in state.vendors.values() if v["is_active"])
    updates = [
        {"name": "Brand New Pty Ltd", "country_code": "NZ"},  # neither id nor origin_id: create
        {"id": existing["id"], "origin_id": "xero-1", "notes": "linked"},  # both: find by id, set origin_id
        {"origin_id": "xero-2", "name": "Origin Created Ltd"},  # unknown origin_id: create
        {"id": 12345, "name": "Ghost"},  # unknown id: error
        {"name": "Bad Country Ltd", "country_code": "Australia"},  # validation error
        {"country_code": "AU"},  # no name: error
    ]
    response = api.patch("/rest/v1.0/vendors/sync", json={"company_id": company_id, "updates": updates})
    assert response.status_code == 200
    body = response.json()
    assert [e["name"] for e in body["entities"]] == ["Brand New Pty Ltd", existing["name"], "Origin Created Ltd"]
    assert body["entities"][1]["id"] == existing["id"] and body["entities"][1]["origin_id"] == "xero-1"
    assert [e["errors"] for e in body["errors"]] == [
        {"id": ["Entity with this ID not found"]},
        {"country_code": ["is not a valid ISO 3166-1 alpha-2 country code"]},
        {"name": ["can't be blank"]},
    ]
    assert body["errors"][0]["name"] == "Ghost"

    again = api.patch(
        "/rest/v1.0/vendors/sync",
        json={"company_id": company_id, "updates": [{"origin_id": "xero-2", "name": "Origin Renamed Ltd"}]},
    ).json()
    assert again["entities"][0]["id"] == body["entities"][2]["id"]
    assert again["entities"][0]["name"] == "Origin Renamed Ltd"

    too_many = [{"name": f"V{i}"} for i in range(1001)]
    assert api.patch("/rest/v1.0/vendors/sync", json={"company_id": company_id, "updates": too_many}).status_code == 400
    duplicate = api.post(
        "/rest/v1.0/vendors", json={"company_id": company_id, "vendor": {"name": "Dup", "origin_id": "xero-1"}}
    )
    assert duplicate.status_code == 400  # POST /vendors documents 201/400/401/403 only
    assert duplicate.json() == {"errors": {"origin_id": ["has already been taken"]}}


def test_approved_commitment_keeps_vendor_and_sov(api: httpx.Client, state) -> None:
    commitment = next(c for c in state.commitments.values() if c["status"] == "Approved" and c["line_items"])
    other_vendor = next(v["id"] for v in state.vendors.values() if v["id"] != commitment["vendor_id"])
    url = f"/rest/v1.0/{_resource(commitment)}/{commitment['id']}"
    key = _resource(commitment)[:-1]
    project = {"project_id": commitment["project_id"]}
    refused = api.patch(url, json={**project, key: {"vendor_id": other_vendor}})
    assert refused.status_code == 422
    assert "vendor_id" in refused.json()["errors"]
    line = commitment["line_items"][0]
    sov = api.patch(f"{url}/line_items/{line['id']}", json={**project, "line_item": {"amount": "1.00"}})
    assert sov.status_code == 422
    allowed = api.patch(url, json={**project, key: {"origin_id": "xero-po-1", "description": "ok"}})
    assert allowed.status_code == 200 and allowed.json()["origin_id"] == "xero-po-1"

    draft = api.post(
        f"/rest/v1.0/{_resource(commitment)}", json={**project, key: {"title": "New", "vendor_id": other_vendor}}
    )
    assert draft.status_code == 201 and draft.json()["status"] == "Draft"
    bad_code = api.post(
        f"/rest/v1.0/{_resource(commitment)}/{draft.json()['id']}/line_items",
        json={**project, "line_item": {"amount": "10", "cost_code_id": 999}},
    )
    assert bad_code.status_code == 422 and "cost_code_id" in bad_code.json()["errors"]


def test_contract_payments_need_both_ids_and_update_totals(api: httpx.Client, state) -> None:
    commitment = next(c for c in state.commitments.values() if c["status"] == "Approved" and c["line_items"])
    project_id, contract_id = commitment["project_id"], commitment["id"]
    assert api.get("/rest/v1.0/contract_payments", params={"project_id": project_id}).status_code == 400
    assert api.get("/rest/v1.0/contract_payments", params={"contract_id": contract_id}).status_code == 400
    payment = {"date": "2026-10-01", "amount": "1234.56", "origin_id": "xero-pay-1", "invoice_number": "A"}
    created = api.post(
        "/rest/v1.0/contract_payments",
        json={"project_id": project_id, "contract_id": contract_id, "contract_payment": payment},
    )
    assert created.status_code == 201 and created.json()["amount"] == "1234.56"
    show = api.get(f"/rest/v1.0/{_resource(commitment)}/{contract_id}", params={"project_id": project_id}).json()
    grand_total = sum((line["amount"] for line in commitment["line_items"]), Decimal(0))
    assert show["total_payments"] == "1234.56"
    revised = grand_total + Decimal(show["approved_change_orders"])  # the contract as its change orders revised it
    assert Decimal(show["revised_contract"]) == revised
    assert Decimal(show["remaining_balance_outstanding"]) == revised - Decimal("1234.56")
    assert [p["id"] for p in show["payments_issued"]] == [created.json()["id"]]

    ids = {"project_id": project_id, "contract_id": contract_id}
    payment_url = f"/rest/v1.0/contract_payments/{created.json()['id']}"
    locked = api.patch(payment_url, json={**ids, "contract_payment": {"amount": "1.00"}})
    assert locked.status_code == 422 and "amount" in locked.json()["errors"]
    relinked = api.patch(payment_url, json={**ids, "contract_payment": {"origin_data": "batch 7"}})
    assert relinked.status_code == 200


def test_direct_cost_locked_by_origin_id(api: httpx.Client, state) -> None:
    """Header, lines, then the lock: once ``origin_id`` is set neither the header nor a line may change."""
    project_id = next(iter(state.projects))
    vendor_id = next(iter(state.vendors))
    code_id = next(c["id"] for c in state.cost_codes.values() if c["project_id"] == project_id)
    base = f"/rest/v1.0/projects/{project_id}/direct_costs"
    header = {"invoice_number": "INV-77", "vendor_id": vendor_id, "direct_cost_type": "invoice", "origin_data": "m"}
    created = api.post(base, json={"item": header})
    assert created.status_code == 201 and created.json()["status"] == "draft"
    direct_cost_id = created.json()["id"]
    lines_url = f"{base}/{direct_cost_id}/line_items"
    for amount in (100.10, 0.45):
        line = api.post(lines_url, json={"line_item": {"amount": amount, "cost_code_id": code_id, "origin_id": "L"}})
        assert line.status_code == 201, line.text
    first_line = api.get(lines_url).json()[0]["id"]
    lock = {"id": direct_cost_id, "origin_id": "xero-bill-77", "status": "approved"}
    synced = api.patch(f"{base}/sync", json={"updates": [lock]}).json()
    assert synced["errors"] == [] and synced["entities"][0]["grand_total"] == "100.55"
    url = f"/rest/v1.1/projects/{project_id}/direct_costs/{direct_cost_id}"
    assert api.patch(url, json={"direct_cost": {"description": "X"}}).status_code == 422
    assert api.patch(url, json={"direct_cost": {"origin_data": "note"}}).status_code == 200
    assert api.post(lines_url, json={"line_item": {"amount": 1, "cost_code_id": code_id}}).status_code == 422
    assert api.patch(f"{lines_url}/{first_line}", json={"line_item": {"amount": 2}}).status_code == 422
    assert api.delete(f"{lines_url}/{first_line}").status_code == 422
    unlocked = api.patch(f"{base}/sync", json={"updates": [{"id": direct_cost_id, "origin_id": None}]}).json()
    assert unlocked["errors"] == []
    deleted = api.delete(f"{lines_url}/{first_line}")
    assert deleted.status_code == 200 and deleted.content == b"", "200 with no body, as documented"
    assert api.get(url).json()["grand_total"] == "0.45"
    assert api.delete(f"{lines_url}/{first_line}").status_code == 404
    missing = api.post(f"/rest/v1.1/projects/{project_id}/direct_costs", json={"direct_cost": {"vendor_id": vendor_id}})
    assert missing.status_code == 422 and set(missing.json()["errors"]) == {"invoice_number", "direct_cost_type"}


def test_direct_cost_line_sync_creates_by_origin_id_and_needs_a_cost_type(api: httpx.Client, state) -> None:
    """Headers created by sync (no origin_id), their lines in one line sync, then locked: a resent line
    sync updates what the first made, a line without a cost type is refused, a locked one cannot change."""
    project_id = next(iter(state.projects))
    vendor_id = next(iter(state.vendors))
    code_id = next(c["id"] for c in state.cost_codes.values() if c["project_id"] == project_id)
    type_id = next(kind["id"] for kind in state.line_item_types.values() if kind["code"] == "O")
    base = f"/rest/v1.0/projects/{project_id}/direct_costs"
    headers = [
        {"invoice_number": f"INV-9{n}", "vendor_id": vendor_id, "direct_cost_type": "invoice", "origin_data": f"m{n}"}
        for n in (1, 2)
    ]
    created = api.patch(f"{base}/sync", json={"updates": headers}).json()
    assert created["errors"] == [] and [e["origin_data"] for e in created["entities"]] == ["m1", "m2"]
    first, second = (entity["id"] for entity in created["entities"])
    assert all(entity["origin_id"] is None for entity in created["entities"]), "unlocked"
    lines = [
        {
            "direct_cost_id": first,
            "cost_code_id": code_id,
            "line_item_type_id": type_id,
            "amount": 10.5,
            "origin_id": "B1:1",
        },
        {
            "direct_cost_id": second,
            "cost_code_id": code_id,
            "line_item_type_id": type_id,
            "amount": 4,
            "origin_id": "B2:1",
        },
        {"direct_cost_id": second, "cost_code_id": code_id, "amount": 1, "origin_id": "B2:2"},
    ]
    synced = api.patch(f"{base}/line_items/sync", json={"updates": lines}).json()
    assert [(e["holder"]["id"], e["origin_id"]) for e in synced["entities"]] == [(first, "B1:1"), (second, "B2:1")]
    (refused,) = synced["errors"]
    assert refused["origin_id"] == "B2:2" and "line_item_type_id" in " ".join(refused["errors"]["base"])
    again = api.patch(f"{base}/line_items/sync", json={"updates": lines[:2]}).json()
    assert again["errors"] == [] and [e["id"] for e in again["entities"]] == [e["id"] for e in synced["entities"]]
    assert [len(api.get(f"{base}/{dc}/line_items").json()) for dc in (first, second)] == [1, 1], "no line twice"
    locked = api.patch(f"{base}/sync", json={"updates": [{"id": first, "origin_id": "B1"}]}).json()
    assert locked["errors"] == []
    changed = api.patch(f"{base}/line_items/sync", json={"updates": [{**lines[0], "amount": 11}]}).json()
    assert changed["entities"] == [] and "synced" in " ".join(changed["errors"][0]["errors"]["base"])


def test_requisition_summary_maths_to_the_cent(api: httpx.Client, state) -> None:
    requisition = next(
        r
        for r in state.requisitions.values()
        if state.commitments[r["commitment_id"]]["retainage_percent"] > 0 and r["items"]
    )
    percent = state.commitments[requisition["commitment_id"]]["retainage_percent"]
    gross = [i["work_completed_this_period"] + i["materials_presently_stored"] for i in requisition["items"]]
    retainage = [(g * percent / 100).quantize(CENT, rounding=ROUND_HALF_UP) for g in gross]
    params = {"project_id": requisition["project_id"]}
    body = api.get(f"/rest/v1.1/requisitions/{requisition['id']}", params={**params, "view": "items"}).json()
    summary = body["summary"]
    assert summary["current_payment_due"] == str(sum(gross) - sum(retainage))
    assert summary["total_retainage"] == str(sum(retainage))
    assert summary["total_completed_and_stored_to_date"] == str(sum(gross))
    assert [item["net_amount"] for item in body["items"]] == [str(g - r) for g, r in zip(gross, retainage, strict=True)]

    patch = api.patch(
        f"/rest/v1.0/requisitions/{requisition['id']}",
        json={**params, "commitment_id": requisition["commitment_id"], "requisition": {"origin_id": "xero-bill-1"}},
    )
    assert patch.status_code == 200 and patch.json()["origin_id"] == "xero-bill-1"
    locked = api.patch(
        f"/rest/v1.0/requisitions/{requisition['id']}",
        json={**params, "commitment_id": requisition["commitment_id"], "requisition": {"invoice_number": "NEW"}},
    )
    assert locked.status_code == 422


def test_lost_response_commits_the_write_but_answers_504(
    api: httpx.Client,
    base_url: str,
    company_id: int,
    state,
) -> None:
    httpx.post(f"{base_url}/_sandbox/faults", json={"lost_rate": 1}).raise_for_status()
    lost = api.post("/rest/v1.0/vendors", json={"company_id": company_id, "vendor": {"name": "Lost Answer Ltd"}})
    assert lost.status_code == 504 and lost.content == b""
    httpx.post(f"{base_url}/_sandbox/faults", json={}).raise_for_status()
    found = api.get("/rest/v1.0/vendors", params={"company_id": company_id, "filters[search]": "Lost Answer"})
    assert [v["name"] for v in found.json()] == ["Lost Answer Ltd"]
