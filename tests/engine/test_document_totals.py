"""A commitment whose lines total less than zero, or zero, never becomes (or changes) a Xero purchase
order: it gets a named review issue and the order stays as it was."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.integrations.apis import xero_api
from trestle.cli import run_flow
from trestle.db import make_engine
from trestle.flows import get_flow
from trestle.models.store import LinkStore


def run(name: str) -> dict[str, Any]:
    return run_flow(get_flow(name), notify=False)["integrations"][name]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_negative_and_zero_commitments_get_named_issues_and_no_order(
    trestle_env: dict[str, str], fresh_sandboxes: Any
) -> None:
    for name in ("vendors", "projects", "cost_codes", "commitments"):
        run(name)
    store = LinkStore(make_engine(trestle_env["TRESTLE_DATABASE_URL"]), "default")
    negative, zero = sorted(store.links("commitment"), key=lambda link: int(link.procore_id))[:2]
    procore = fresh_sandboxes.procore.server.config.app.state.procore  # the company edits two commitments
    for link, sign in ((negative, Decimal(-1)), (zero, Decimal(0))):
        commitment = procore.commitments[int(link.procore_id)]
        for line in commitment["line_items"]:
            line["amount"] = abs(Decimal(str(line["amount"]))) * sign
        commitment["updated_at"] = procore.now()
    with xero_api(trestle_env) as xero:
        totals_before = {
            link.xero_id: xero.get(f"/PurchaseOrders/{link.xero_id}").json()["PurchaseOrders"][0]["Total"]
            for link in (negative, zero)
        }
        summary = run("commitments")
        totals_after = {
            link.xero_id: xero.get(f"/PurchaseOrders/{link.xero_id}").json()["PurchaseOrders"][0]["Total"]
            for link in (negative, zero)
        }
    issues = {(issue.record_id, issue.code) for issue in store.open_issues(entity="commitment")}
    assert (negative.procore_id, "commitment.negative_total") in issues, issues
    assert (zero.procore_id, "commitment.zero_total") in issues, issues
    assert totals_after == totals_before, "the purchase orders were left as they were"
    assert summary["updated"] == 0 and summary["failed"] == 0, summary
