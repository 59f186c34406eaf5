"""A direct cost Procore already has under the bill's ``origin_id`` (its write's answer was lost and
the lookup missed it, seen in the chaos matrix, seed 12) is adopted when the next write's lock is
refused for that ``origin_id``: brought to the payload and linked, the copy just made removed, and
never failed again every night."""

from __future__ import annotations

import pytest

from tests.integrations.test_direct_invoices import link_prerequisites, run, store_for


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_direct_cost_procore_already_has_is_linked_not_failed(trestle_env: dict[str, str]) -> None:
    link_prerequisites()
    first = run()
    links = store_for(trestle_env)
    before = {link.xero_id: link.procore_id for link in links.links("direct_cost")}
    assert first["created"] == len(before) > 0
    for procore_id in before.values():
        links.delete_link("direct_cost", procore_id=procore_id)  # the link a lost answer never wrote

    again = run(full_refresh=True)  # the bills are unchanged: an incremental run would not read them
    assert again["failed"] == 0 and again["created"] == len(before), again
    assert {link.xero_id: link.procore_id for link in links.links("direct_cost")} == before
    assert not [i for i in links.open_issues(integration="direct_invoices") if i.code == "direct_cost.write_rejected"]
