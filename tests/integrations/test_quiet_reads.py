"""Quiet nights read little and miss nothing: on the sandboxes over HTTP and a real database.

Each test counts the calls a run with nothing new makes (the sandbox's own request counts), then
changes one thing and checks the change still reaches the other side: an edited commitment is
shown and updated, a claim blocked on its vendor is re-checked once the vendor is linked, a new
file on a linked claim is attached although claim attachments read no claims list of their own.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx

from tests.integrations.apis import api_requests, procore_api, xero_api
from trestle.cli import run_flow
from trestle.db import make_engine
from trestle.flows import get_flow
from trestle.integrations.commitments import APPROVED_STATUSES
from trestle.models.store import LinkStore
from trestle.sandbox.attachments_seed import file_bytes
from trestle.sandbox.procore.routes_attachments import add_file

SHOWS = (
    "GET /rest/v1.0/work_order_contracts/{commitment_id}",
    "GET /rest/v1.0/purchase_order_contracts/{commitment_id}",
)
LISTS = ("GET /rest/v1.0/work_order_contracts", "GET /rest/v1.0/purchase_order_contracts")
REQUISITIONS = "GET /rest/v1.1/requisitions"


def run(name: str, **params: Any) -> dict[str, Any]:
    params.setdefault("notify", False)
    return run_flow(get_flow(name), **params)["integrations"][name]


def store(env: dict[str, str]) -> LinkStore:
    return LinkStore(make_engine(env["TRESTLE_DATABASE_URL"]), "default")


def procore_calls(env: dict[str, str]) -> Counter[str]:
    return api_requests(env["TRESTLE_PROCORE_API_URL"])


def calls_during(env: dict[str, str], action: Any) -> tuple[Any, Counter[str]]:
    """What ``action()`` returned and the Procore requests it made, by route."""
    before = procore_calls(env)
    result = action()
    return result, procore_calls(env) - before


def test_settled_commitments_are_not_shown_again_and_an_edited_one_still_is(trestle_env: dict[str, str]) -> None:
    for name in ("vendors", "projects", "cost_codes"):
        run(name)
    first, first_calls = calls_during(trestle_env, lambda: run("commitments"))
    links = {link.procore_id: link.xero_id for link in store(trestle_env).links("commitment")}
    assert first["created"] == len(links) > 0

    quiet, quiet_calls = calls_during(trestle_env, lambda: run("commitments"))
    assert quiet["created"] == quiet["updated"] == 0
    shown_first, shown_quiet = (sum(calls[route] for route in SHOWS) for calls in (first_calls, quiet_calls))
    assert shown_first - shown_quiet >= len(links), "no commitment settled at its version is shown again"
    projects = len(store(trestle_env).links("project"))
    assert sum(quiet_calls[route] for route in LISTS) == 2 * projects, "two lists a project, no re-check by id"
    issues = {issue.record_id for issue in store(trestle_env).open_issues(integration="commitments")}
    assert issues, "the blocked commitments keep their issues without being re-read"

    with procore_api(trestle_env) as api:
        edited, kind, project_id = _linked_approved_commitment(api, store(trestle_env), set(links))
        body = {"project_id": project_id, f"{kind}_contract": {"title": "Retitled tonight"}}
        api.patch(f"/rest/v1.0/{kind}_contracts/{edited}", json=body).raise_for_status()
    after, after_calls = calls_during(trestle_env, lambda: run("commitments"))
    assert after["updated"] == 1 and after["created"] == 0, after
    assert sum(after_calls[route] for route in SHOWS) == shown_quiet + 1, "the edited commitment alone is shown"
    with xero_api(trestle_env) as xero:
        order = xero.get(f"/PurchaseOrders/{links[edited]}").json()["PurchaseOrders"][0]
    assert order["Reference"].endswith("Retitled tonight")


def _linked_approved_commitment(api: httpx.Client, links: LinkStore, linked: set[str]) -> tuple[str, str, int]:
    for project in links.links("project"):
        for kind in ("work_order", "purchase_order"):
            listed = api.get(f"/rest/v1.0/{kind}_contracts", params={"project_id": project.procore_id}).json()
            for item in listed:
                if str(item["id"]) in linked and item["status"] in APPROVED_STATUSES[kind]:
                    return str(item["id"]), kind, int(project.procore_id)
    raise AssertionError("no linked approved commitment")


def test_a_claim_blocked_on_its_vendor_is_rechecked_only_once_the_vendor_is_linked(
    trestle_env: dict[str, str],
) -> None:
    run("projects")
    run("cost_codes")
    blocked = run("progress_claims")
    issues = store(trestle_env).open_issues(integration="progress_claims")
    assert blocked["created"] == 0 and issues
    assert {issue.code for issue in issues} == {"progress_claim.vendor_not_linked"}
    projects = len(store(trestle_env).links("project"))

    quiet, quiet_calls = calls_during(trestle_env, lambda: run("progress_claims"))
    assert quiet["created"] == quiet["updated"] == 0
    assert quiet_calls[REQUISITIONS] == projects, "each project's claims once, no re-read of the blocked ones"
    assert quiet_calls["GET /rest/v1.0/cost_codes"] == 0, "nothing is mapped while every claim is blocked"
    assert len(store(trestle_env).open_issues(integration="progress_claims")) == len(issues), "the issues stay open"
    named = run("progress_claims", records=[issues[0].record_id])
    assert named["outcome"] != "failed" and named["skipped"] == 1, "a claim named by id is read whatever its issue"

    run("vendors")
    fixed, fixed_calls = calls_during(trestle_env, lambda: run("progress_claims"))
    assert fixed_calls[REQUISITIONS] == projects
    bills = {link.procore_id: link.xero_id for link in store(trestle_env).links("progress_claim")}
    contacts = {link.procore_id: link.xero_id for link in store(trestle_env).links("vendor")}
    cleared = [issue for issue in issues if str(issue.details["vendor_id"]) in contacts]
    assert cleared and fixed["created"] >= len(cleared), "the claims of the linked vendors are sent"
    with xero_api(trestle_env) as xero:
        for issue in cleared:
            bill_id = bills[issue.record_id]
            kind = "Invoices" if (xero.get(f"/Invoices/{bill_id}").status_code == 200) else "CreditNotes"
            document = xero.get(f"/{kind}/{bill_id}").json()[kind][0]
            assert document["Contact"]["ContactID"] == contacts[str(issue.details["vendor_id"])]


def test_claim_attachments_in_a_nightly_read_no_claims_and_a_new_file_is_still_attached(
    trestle_env: dict[str, str], fresh_sandboxes: Any
) -> None:
    chain = ["vendors", "projects", "cost_codes", "commitments", "progress_claims", "claim_attachments"]
    nightly = get_flow("nightly")
    first, first_calls = calls_during(trestle_env, lambda: run_flow(nightly, notify=False, integrations=chain))
    assert first["integrations"]["claim_attachments"]["created"] > 0
    projects = len(store(trestle_env).links("project"))
    assert first_calls[REQUISITIONS] == projects, "one list of claims a project, shared by both integrations"

    state = fresh_sandboxes.procore.server.config.app.state.procore
    bills = {link.procore_id: link.xero_id for link in store(trestle_env).links("progress_claim")}
    claim = next(c for c in state.requisitions.values() if c.get("attachments") and str(c["id"]) in bills)
    photos = file_bytes("variation-photos.pdf", 2048)
    claim["attachments"].append(add_file(state, "variation-photos.pdf", photos, "application/pdf"))
    second, second_calls = calls_during(trestle_env, lambda: run_flow(nightly, notify=False, integrations=chain))
    assert second["integrations"]["claim_attachments"]["created"] == 1, second["integrations"]["claim_attachments"]
    assert second_calls[REQUISITIONS] == projects
    with xero_api(trestle_env) as xero:
        files = xero.get(f"/Invoices/{bills[str(claim['id'])]}/Attachments").json()["Attachments"]
    assert "variation-photos.pdf" in {item["FileName"] for item in files}
