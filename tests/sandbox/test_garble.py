"""``/_sandbox/garble``: a chosen record answered with wrong fields, on list and show, until mended."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integrations.apis import procore_api, xero_api


def test_a_garbled_contact_answers_wrong_on_list_and_show_and_is_mended(fresh_sandboxes: Any) -> None:
    env, url = fresh_sandboxes.env, fresh_sandboxes.xero.url
    with xero_api(env) as xero:
        contacts = xero.get("/Contacts", params={"page": 1}).json()["Contacts"]
        target, other = contacts[0], contacts[1]
        body = {"route": "/api.xro/2.0/Contacts", "key": "ContactID", "value": target["ContactID"]}
        garbling = {**body, "set": {"Name": 12, "Balances": {"x": 1}}, "drop": ["ContactStatus"]}
        httpx.post(f"{url}/_sandbox/garble", json=garbling).raise_for_status()

        listed = {c["ContactID"]: c for c in xero.get("/Contacts", params={"page": 1}).json()["Contacts"]}
        shown = xero.get(f"/Contacts/{target['ContactID']}").json()["Contacts"][0]
        for garbled in (listed[target["ContactID"]], shown):
            assert garbled["Name"] == 12 and garbled["Balances"] == {"x": 1} and "ContactStatus" not in garbled
        assert listed[other["ContactID"]] == other, "the other records answer as stored"
        invoices = xero.get("/Invoices", params={"page": 1}).text
        assert '"Name":12' not in invoices, "only the garbled route is rewritten"

        httpx.delete(f"{url}/_sandbox/garble").raise_for_status()
        assert xero.get(f"/Contacts/{target['ContactID']}").json()["Contacts"][0]["Name"] == target["Name"]


def test_garbled_procore_answers_keep_other_values_exact_and_reset_mends_them(fresh_sandboxes: Any) -> None:
    env, url = fresh_sandboxes.env, fresh_sandboxes.procore.url
    with procore_api(env) as procore:
        company = {"company_id": env["TRESTLE_PROCORE_COMPANY_ID"]}
        vendors = procore.get("/rest/v1.0/vendors", params=company).json()
        target = vendors[0]
        garbling = {"route": "/rest/v1.0/vendors", "key": "id", "value": target["id"], "set": {"name": ["x"]}}
        httpx.post(f"{url}/_sandbox/garble", json=garbling).raise_for_status()
        answer = procore.get("/rest/v1.0/vendors", params=company)
        assert answer.status_code == 200, "strict mode checks what the routes answered, not the garbling"
        garbled = {vendor["id"]: vendor for vendor in answer.json()}
        assert garbled[target["id"]]["name"] == ["x"]
        assert [v for v in answer.json() if v["id"] != target["id"]] == vendors[1:]

        httpx.post(f"{url}/_sandbox/reset", json={"dataset": "small", "seed": 1}).raise_for_status()
        assert procore.get("/rest/v1.0/vendors", params=company).json()[0]["name"] == target["name"]
