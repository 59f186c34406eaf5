"""Cost codes (Procore standard list → Xero "Cost Code" tracking options), end to end."""

from __future__ import annotations

from typing import Any

from tests.integrations.apis import tracking_options, xero_api
from trestle.cli import run_flow
from trestle.db import make_engine
from trestle.flows import get_flow
from trestle.models.store import LinkStore
from trestle.naming import cost_code_option_name
from trestle.sandbox.scenario import build_scenario

SCENARIO = build_scenario("small", 1)


def run(**params: Any) -> dict[str, Any]:
    params.setdefault("notify", False)
    return run_flow(get_flow("cost_codes"), **params)["integrations"]["cost_codes"]


def test_only_the_standard_list_becomes_options_and_existing_ones_are_linked(trestle_env: dict[str, str]) -> None:
    dry = run(dry_run=True)
    with xero_api(trestle_env) as xero:
        assert set(tracking_options(xero, "Cost Code")) == set(SCENARIO.xero_cost_code_options), "dry run wrote"
    first = run()
    with xero_api(trestle_env) as xero:
        options = tracking_options(xero, "Cost Code")
    standard = {cost_code_option_name(code, name) for code, name in SCENARIO.standard_cost_codes}
    non_standard = {cost_code_option_name(code, name) for code, name in SCENARIO.non_standard_cost_codes}
    assert standard == set(options)
    assert not non_standard & set(options)
    assert first["created"] == dry["created"] == len(standard) - len(SCENARIO.xero_cost_code_options)
    assert first["unchanged"] == len(SCENARIO.xero_cost_code_options), "pre-existing options are linked, not re-created"
    links = LinkStore(make_engine(trestle_env["TRESTLE_DATABASE_URL"]), "default").links("cost_code")
    assert {link.last_payload["Name"] for link in links} == standard
    assert {link.xero_id for link in links} == {option["TrackingOptionID"] for option in options.values()}
    second = run()
    assert second["created"] == second["updated"] == 0 and second["unchanged"] == len(standard)
