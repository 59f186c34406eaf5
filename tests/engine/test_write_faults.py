"""Every writing integration under Procore and Xero 5xx and lost answers on its writes.

For each integration of the registry: its prerequisites run clean, then it runs once with a
quarter of both sandboxes' requests failing with 500/503 and a quarter of successful writes losing
their answer (504 after the write committed), then once more with the faults off. Afterwards nothing
is pending, each record written is in the target exactly once and linked, and the two runs' counts
add up to what reached the target. A third run writes nothing. The attachment integrations get files
on more documents first (the sandboxes' ``/_sandbox/attachments``), so that faults meet several of
their writes, not the seed's one or two.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.integrations.apis import procore_api
from tests.integrations.test_payments import pay_bills
from trestle.cli import run_flow
from trestle.db import make_engine
from trestle.flows import get_flow
from trestle.integrations import DEPENDS_ON, integration, registry
from trestle.integrations.direct_invoices import split_targets
from trestle.models.store import LinkStore
from trestle.models.tables import WriteIntent

TARGET_OBJECTS: dict[str, tuple[str, ...]] = {
    "vendors": ("vendors",),
    "projects": ("tracking_options",),
    "cost_codes": ("tracking_options",),
    "commitments": ("purchase_orders",),
    "progress_claims": ("invoices", "credit_notes"),
    "claim_attachments": ("invoice_attachments",),
    "payments": ("contract_payments",),
    "direct_invoices": ("direct_costs",),
    "bill_attachments": ("direct_cost_attachments",),
}
"""Where each integration's records land: its target sandbox's ``/_sandbox/stats`` object counts
(every integration of the registry must be here: the test is parametrised from the registry)."""
MORE_FILES = {"claim_attachments": ("procore", 4), "bill_attachments": ("xero", 3)}
"""Documents given files before an attachment integration runs: the sandbox, and how many more."""
WRITE_METHODS = ("POST ", "PUT ", "PATCH ", "DELETE ")
MATCHES_EXISTING = {"vendors", "projects", "cost_codes"}
"""Integrations that also link records already in the target (the others only create)."""


def run(name: str) -> dict[str, Any]:
    return run_flow(get_flow(name), notify=False)["integrations"][name]


def prerequisites(name: str) -> list[str]:
    """Every integration ``name`` depends on, directly or not, in registry order."""
    needed: set[str] = set()
    todo = list(DEPENDS_ON[name])
    while todo:
        item = todo.pop()
        if item not in needed:
            needed.add(item)
            todo.extend(DEPENDS_ON[item])
    return [item for item in DEPENDS_ON if item in needed]


def url_of(env: dict[str, str], system: str) -> str:
    return env["TRESTLE_XERO_API_URL" if system == "xero" else "TRESTLE_PROCORE_API_URL"]


def objects(env: dict[str, str], name: str) -> int:
    url = url_of(env, integration(name).target_system)
    counts = httpx.get(f"{url}/_sandbox/stats").json()["objects"]
    return sum(counts[key] for key in TARGET_OBJECTS[name])


def faults_seen(env: dict[str, str]) -> int:
    """5xx answers of both sandboxes so far (the fault injector's; their own rules never send them)."""
    total = 0
    for setting in ("TRESTLE_XERO_API_URL", "TRESTLE_PROCORE_API_URL"):
        statuses = httpx.get(f"{env[setting]}/_sandbox/stats").json()["statuses"]
        total += sum(int(statuses.get(status, 0)) for status in ("500", "503", "504"))
    return total


def linked_objects(store: LinkStore, entity: str) -> int:
    """Target objects the links point at: a bill split over projects links one direct cost per project."""
    links = store.links(entity)
    if entity == "direct_cost":
        return sum(len(split_targets(link.procore_id)) for link in links)
    return len(links)


def api_writes(env: dict[str, str]) -> int:
    total = 0
    for setting in ("TRESTLE_XERO_API_URL", "TRESTLE_PROCORE_API_URL"):
        requests = httpx.get(f"{env[setting]}/_sandbox/stats").json()["requests"]
        total += sum(
            count
            for key, count in requests.items()
            if key.startswith(WRITE_METHODS) and not any(part in key for part in ("/_sandbox", "/oauth", "/connect"))
        )
    return total


def set_faults(env: dict[str, str], **faults: float) -> None:
    for setting in ("TRESTLE_XERO_API_URL", "TRESTLE_PROCORE_API_URL"):
        httpx.post(f"{env[setting]}/_sandbox/faults", json=faults).raise_for_status()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("name", list(registry()))
def test_5xx_and_lost_answers_on_writes_never_write_twice(
    name: str, trestle_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRESTLE_SYNC_BILL_STATUS", "AUTHORISED")  # payable bills, so payments have work
    for before in prerequisites(name):
        run(before)
    if name == "payments":
        assert pay_bills(trestle_env, share=0.8, partial_share=0.3, seed=5)
    if name in MORE_FILES:
        system, documents = MORE_FILES[name]
        filed = httpx.post(f"{url_of(trestle_env, system)}/_sandbox/attachments", json={"documents": documents})
        assert filed.json() == {"documents": documents}, filed.text
    store = LinkStore(make_engine(trestle_env["TRESTLE_DATABASE_URL"]), "default")
    entity = integration(name).entity
    objects_before, links_before = objects(trestle_env, name), len(store.links(entity))
    linked_before = linked_objects(store, entity)

    faults_before = faults_seen(trestle_env)
    set_faults(trestle_env, error_rate=0.25, lost_rate=0.25, seed=7)
    faulty = run(name)
    set_faults(trestle_env, error_rate=0.0, lost_rate=0.0)
    assert faults_seen(trestle_env) > faults_before, "no fault met the faulty run: the test proves nothing"
    clean = run(name)

    with store.session() as session:
        pending = session.scalar(select(func.count()).select_from(WriteIntent).where(WriteIntent.status == "pending"))
    assert pending == 0, "the clean run finished every write the faulty one left open"
    written = objects(trestle_env, name) - objects_before
    assert written > 0, f"{name} wrote nothing: the test proves nothing"
    linked = linked_objects(store, entity) - linked_before
    extra_parts = linked - (len(store.links(entity)) - links_before)  # split bills: one record, several objects
    assert faulty["created"] + clean["created"] + extra_parts == written, (faulty, clean, written, extra_parts)
    assert written <= linked, "a record reached the target twice or unlinked"
    if name not in MATCHES_EXISTING:
        assert written == linked
    assert clean["outcome"] in ("success", "issues"), clean

    writes_before = api_writes(trestle_env)
    again = run(name)
    assert api_writes(trestle_env) == writes_before, "a third run sent writes: something was left half done"
    assert again["created"] == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_payment_procore_already_has_is_linked_not_failed(
    trestle_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Procore answers 409 "origin_id has already been taken" to a payment it has: Trestle links that one."""
    monkeypatch.setenv("TRESTLE_SYNC_BILL_STATUS", "AUTHORISED")
    for before in prerequisites("payments"):
        run(before)
    paid = pay_bills(trestle_env, share=1.0, partial_share=0.0, seed=6)[0]
    store = LinkStore(make_engine(trestle_env["TRESTLE_DATABASE_URL"]), "default")
    claim_id = next(link.procore_id for link in store.links("progress_claim") if link.xero_id == paid["InvoiceID"])
    with procore_api(trestle_env) as procore:
        claim = next(
            claim
            for project in store.links("project")
            for claim in procore.get(
                "/rest/v1.1/requisitions", params={"project_id": project.procore_id, "per_page": 1000}
            ).json()
            if str(claim["id"]) == claim_id
        )
        where = {"project_id": claim["project_id"], "contract_id": claim["commitment_id"]}
        origin = paid["PaymentID"]
        by_hand = procore.post(  # someone recorded it in Procore already (or a lost answer's write landed)
            "/rest/v1.0/contract_payments",
            json={**where, "contract_payment": {"amount": "1.00", "date": "2026-11-30", "origin_id": origin}},
        )
        assert by_hand.status_code in (200, 201), by_hand.text
        summary = run("payments")
        payments = procore.get("/rest/v1.0/contract_payments", params=where).json()
    assert summary["failed"] == 0 and "payment.write_rejected" not in summary["issue_codes"], summary
    assert [p["id"] for p in payments if p.get("origin_id") == paid["PaymentID"]] == [by_hand.json()["id"]]
    link = next(link for link in store.links("payment") if link.xero_id == paid["PaymentID"])
    assert link.procore_id == str(by_hand.json()["id"])
