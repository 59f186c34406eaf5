"""The second guard against a killed progress-claims run turning its bills into direct costs:
a bill whose ``Url`` points at a Procore requisition, or that a pending or done progress-claims
intent sent, is never picked up by direct invoices (even before its ``progress_claim`` link exists).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.engine.test_vendors_flow import _run_cli
from tests.integrations.test_direct_invoices import direct_costs, project_ids
from tests.integrations.test_progress_claims import documents, link_prerequisites, run, store
from trestle.db import make_engine, upgrade
from trestle.integrations.claim_bills import ClaimBills, points_at_requisition
from trestle.models.intents import IntentIn
from trestle.models.store import LinkStore
from trestle.models.xero import Invoice
from trestle.tasks.faults import CRASH_EXIT_CODE


@pytest.mark.parametrize(
    ("url", "claim"),
    [
        ("https://app.procore.com/562949953421312/project/commitments/requisitions/88", True),
        ("http://127.0.0.1:8001/12/project/commitments/requisitions/3/?tab=items", True),
        ("https://app.procore.com/12/project/commitments/work_order_contracts/3", False),
        ("https://example.com/requisitions/3", False),
        ("", False),
        (None, False),
    ],
)
def test_a_url_is_a_requisition_page_only_by_its_full_path(url: str | None, claim: bool) -> None:
    assert points_at_requisition(url) is claim


def test_a_bill_sent_by_a_pending_or_done_claim_intent_is_covered(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    links = LinkStore(engine, "default")

    def intent(key: str, contact_id: str, number: str) -> IntentIn:
        payload = {"Type": "ACCPAY", "Contact": {"ContactID": contact_id}, "InvoiceNumber": number}
        return IntentIn("progress_claim", key, "xero", "create", key, f"batch-{key}", 0, key, payload)

    links.add_intents([intent("pending", "c-1", "PC-7"), intent("done", "c-1", "PC-8")], "progress_claims")
    links.add_intents([intent("failed", "c-1", "PC-9")], "progress_claims")
    links.finish_writes(links=[], done_keys=["done"], failed={"failed": "refused"})
    guard = ClaimBills.from_store(links)

    def bill(contact_id: str, number: str) -> Invoice:
        return Invoice.model_validate({"Type": "ACCPAY", "Contact": {"ContactID": contact_id}, "InvoiceNumber": number})

    assert guard.covers(bill("c-1", "PC-7")) and guard.covers(bill("c-1", "pc-8"))
    assert not guard.covers(bill("c-1", "PC-9")), "a refused claim never reached Xero: the bill is someone else's"
    assert not guard.covers(bill("c-2", "PC-7")), "another supplier's bill with the same number is a cost"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_claim_bills_of_a_killed_run_never_become_direct_costs(
    trestle_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRESTLE_SYNC_BILL_STATUS", "AUTHORISED")  # bills direct invoices would pick up
    link_prerequisites("vendors", "projects", "cost_codes")
    before = set(documents(trestle_env, "Invoices"))
    crashed = _run_cli(
        trestle_env,
        "run",
        "progress_claims",
        "--json",
        "--no-email",
        extra={"TRESTLE_CRASH_AT": "after-remote-write", "TRESTLE_SYNC_BILL_STATUS": "AUTHORISED"},
    )
    assert crashed.returncode == CRASH_EXIT_CODE, crashed.stderr[-2000:]
    bills = {key: bill for key, bill in documents(trestle_env, "Invoices").items() if key not in before}
    assert bills and not store(trestle_env).links("progress_claim"), "claim bills in Xero, none linked yet"
    assert {bill["Status"] for bill in bills.values()} == {"AUTHORISED"}

    report = run("direct_invoices")
    assert report["outcome"] in ("success", "issues"), json.dumps(report)
    costs = direct_costs(trestle_env, project_ids(store(trestle_env)))
    assert not set(bills) & set(costs), "a progress claim's bill was sent to Procore as a direct cost"
    assert not set(bills) & {link.xero_id for link in store(trestle_env).links("direct_cost")}
