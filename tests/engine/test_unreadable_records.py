"""A record sent with a field of the wrong type, or without one, through the pipeline (issue #16).

The sandboxes garble one record's answer on demand (``POST /_sandbox/garble``, outside strict
mode's answer check, as a real server's bug would be). That record must become the named issue
``<entity>.unreadable`` — naming the field and what came, never the text — while every good record
of the same page is written; once the server answers properly again the record comes back by
itself on the next run (its ``updated_at`` never changed, so only the re-read of records with open
issues can find it: the cursor moved past it) and syncs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.engine.test_hostile_input import html_parts, procore_vendor_names
from tests.integrations.apis import xero_api
from trestle.cli import run_flow
from trestle.db import make_engine
from trestle.flows.integrations import vendors_flow
from trestle.models.store import LinkStore

GOOD_NAMES = ["Readable Roofing Pty Ltd", "Readable Rigging Pty Ltd", "<b>Readable</b> & Sons"]
GARBLED_NAME = "Garbled Glazing Pty Ltd"


def garble(url: str, route: str, key: str, value: str | int, **change: Any) -> None:
    """Have the sandbox at ``url`` answer the record ``key == value`` under ``route`` changed."""
    body = {"route": route, "key": key, "value": value, "set": change.get("set", {}), "drop": change.get("drop", [])}
    httpx.post(f"{url}/_sandbox/garble", json=body).raise_for_status()


def mend(url: str) -> None:
    """The server's bug is fixed: every record answers as stored again."""
    httpx.delete(f"{url}/_sandbox/garble").raise_for_status()


def plant_group_contacts(env: dict[str, str], names: list[str]) -> dict[str, str]:
    """Contacts created in Xero and put in the contact group Trestle reads; name → ContactID."""
    with xero_api(env) as xero:
        created = xero.put("/Contacts", json={"Contacts": [{"Name": name} for name in names]})
        assert created.status_code == 200, created.text
        ids = {contact["Name"]: contact["ContactID"] for contact in created.json()["Contacts"]}
        groups = xero.get("/ContactGroups").json()["ContactGroups"]
        group = next(group for group in groups if group["Name"] == "Procore")
        members = {"Contacts": [{"ContactID": contact_id} for contact_id in ids.values()]}
        added = xero.put(f"/ContactGroups/{group['ContactGroupID']}/Contacts", json=members)
        assert added.status_code == 200, added.text
    return ids


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_contact_with_a_wrongly_typed_field_is_named_its_page_syncs_and_it_returns_when_mended(
    trestle_env: dict[str, str],
) -> None:
    ids = plant_group_contacts(trestle_env, [*GOOD_NAMES, GARBLED_NAME])
    xero_url = trestle_env["TRESTLE_XERO_API_URL"]
    garbled_id = ids[GARBLED_NAME]
    garble(
        xero_url,
        "/api.xro/2.0/Contacts",
        "ContactID",
        garbled_id,
        set={"Addresses": {"AddressType": "POBOX"}, "IsSupplier": "SECRET-LOOKING-TEXT", "EmailAddress": 42},
    )

    summary = run_flow(vendors_flow, notify=True)["integrations"]["vendors"]
    assert summary["outcome"] == "issues" and summary["failed"] == 0, summary
    in_procore = procore_vendor_names(trestle_env)
    assert set(GOOD_NAMES) <= in_procore, "the good contacts of the same page were written"
    assert GARBLED_NAME not in in_procore, "nothing was sent for the unreadable contact"

    links = LinkStore(make_engine(trestle_env["TRESTLE_DATABASE_URL"]), "default")
    issues = {issue.record_id: issue for issue in links.open_issues(integration="vendors")}
    issue = issues[garbled_id]
    assert issue.code == "vendor.unreadable" and issue.label == GARBLED_NAME
    assert issue.message.startswith("Xero sent this record with values Trestle cannot read: "), issue.message
    assert "addresses (Addresses): expected a valid list, found a JSON object" in issue.message
    assert "email (EmailAddress): expected a valid string, found the number 42" in issue.message
    assert "is supplier (IsSupplier): expected a valid boolean" in issue.message
    assert "SECRET-LOOKING-TEXT" not in issue.message, "text is never echoed"
    assert sorted(issue.details["fields"]) == ["Addresses", "EmailAddress", "IsSupplier"]
    html = html_parts(Path(trestle_env["TRESTLE_HOME"]) / "outbox")
    assert "vendor.unreadable" in html or "cannot read" in html, "the summary names the unreadable contact"
    assert "<b>Readable</b>" not in html, "names are escaped in the email"

    mend(xero_url)
    again = run_flow(vendors_flow, notify=False)["integrations"]["vendors"]
    assert again["created"] == 1 and again["failed"] == 0, again
    assert GARBLED_NAME in procore_vendor_names(trestle_env), "mended, the contact synced without being edited"
    assert garbled_id not in {issue.record_id for issue in links.open_issues(integration="vendors")}
    assert garbled_id in {link.xero_id for link in links.links("vendor")}
