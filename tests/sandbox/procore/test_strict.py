"""Strict mode: undocumented requests are refused with 400, out-of-schema answers fail with 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from trestle.sandbox.common import SandboxRuntime
from trestle.sandbox.procore import create_app
from trestle.sandbox.procore.spec import EXTRACT_FILE, SDK_MODELS_FILE, load_spec
from trestle.sandbox.procore.strict import check_response
from trestle.sandbox.procore.view_tables import VIEW_TABLES
from trestle.sandbox.runner import serve_in_thread

from .conftest import issue_token


def _active_vendor(state) -> dict:
    return next(v for v in state.vendors.values() if v["is_active"])


def test_an_undocumented_query_parameter_is_refused(api: httpx.Client, company_id: int) -> None:
    answer = api.get("/rest/v1.0/vendors", params={"company_id": company_id, "filters[shoe_size]": "9"})
    assert answer.status_code == 400
    message = answer.json()["errors"]
    assert message.startswith("strict mode: GET /rest/v1.0/vendors (RestV10VendorsGet):")
    assert "undocumented query parameter 'filters[shoe_size]'" in message


def test_a_value_outside_the_parameters_enum_is_refused(api: httpx.Client, company_id: int) -> None:
    answer = api.get("/rest/v1.0/vendors", params={"company_id": company_id, "view": "everything"})
    assert answer.status_code == 400
    assert "view='everything' is not one of" in answer.json()["errors"]


def test_an_array_parameter_must_be_spelled_as_documented(api: httpx.Client, state) -> None:
    project_id = next(iter(state.projects))
    documented = api.get("/rest/v1.0/work_order_contracts", params={"project_id": project_id, "filters[id]": [1, 2]})
    assert documented.status_code == 200
    bracketed = api.get("/rest/v1.0/work_order_contracts", params={"project_id": project_id, "filters[id][]": [1]})
    assert bracketed.status_code == 400 and "'filters[id][]'" in bracketed.json()["errors"]


def test_direct_cost_lines_keyed_by_cost_code_are_refused_on_the_v11_create(api: httpx.Client, state) -> None:
    """The v1.1 create documents lines by ``wbs_code_id``/``manual_amount`` only: no tolerance is left."""
    project_id = next(iter(state.projects))
    code_id = next(c["id"] for c in state.cost_codes.values() if c["project_id"] == project_id)
    body = {
        "direct_cost": {
            "invoice_number": "INV-1",
            "vendor_id": next(iter(state.vendors)),
            "direct_cost_type": "invoice",
            "line_items": [{"amount": "1.00", "cost_code_id": code_id}],
        }
    }
    answer = api.post(f"/rest/v1.1/projects/{project_id}/direct_costs", json=body)
    assert answer.status_code == 400
    assert "undocumented body field 'direct_cost.line_items[0].cost_code_id'" in answer.json()["errors"]
    assert not any(cost["invoice_number"] == "INV-1" for cost in state.direct_costs.values())


def test_an_undocumented_body_field_is_refused_and_nothing_is_written(
    api: httpx.Client, company_id: int, state
) -> None:
    vendor = _active_vendor(state)
    answer = api.patch(
        f"/rest/v1.0/vendors/{vendor['id']}",
        json={"company_id": company_id, "vendor": {"name": "Renamed", "shoe_size": 9}},
    )
    assert answer.status_code == 400
    assert "undocumented body field 'vendor.shoe_size'" in answer.json()["errors"]
    shown = api.get(f"/rest/v1.0/vendors/{vendor['id']}", params={"company_id": company_id}).json()
    assert shown["name"] == vendor["name"]


def test_a_response_outside_the_schema_fails_loudly_naming_the_field(
    api: httpx.Client, company_id: int, state, caplog: pytest.LogCaptureFixture
) -> None:
    vendor = _active_vendor(state)
    vendor["name"] = 12345  # bad data in the simulator's own state: the schema says name is a string
    answer = api.get(f"/rest/v1.0/vendors/{vendor['id']}", params={"company_id": company_id})
    assert answer.status_code == 500
    message = answer.json()["errors"]
    assert message.startswith("strict mode: GET /rest/v1.0/vendors/{id} (RestV10VendorsIdGet): response $.name")
    assert any(record.levelname == "ERROR" and "$.name" in record.getMessage() for record in caplog.records)


def test_response_checks_close_objects_and_cut_to_the_view() -> None:
    spec = load_spec()
    codes = spec.operations["GET /rest/v1.0/standard_cost_codes"]
    default = VIEW_TABLES[codes.key].resolve(None)
    good = json.dumps([{"id": 1, "standard_cost_code_list_id": 2}]).encode()
    assert check_response(codes, 200, good, default) == []
    named = json.dumps([{"id": 1, "standard_cost_code_list_id": 2, "name": "Concrete"}]).encode()
    assert check_response(codes, 200, named, default) == [
        "$[0]: Additional properties are not allowed ('name' was unexpected)"
    ]
    deleted = spec.operations["DELETE /rest/v1.0/projects/{project_id}/direct_costs/{id}"]
    assert check_response(deleted, 204, b"", None) == [
        "status 204 is not documented (documented: ['200', '400', '403', '404', '409', 'default'])"
    ]
    requisitions = spec.operations["GET /rest/v1.1/requisitions/{id}"]
    numbered = json.dumps({"id": 1, "items": [{"line_number": 1}]}).encode()
    assert check_response(requisitions, 200, numbered, VIEW_TABLES[requisitions.key].resolve("items")) == [
        "$.items[0].line_number: 1 is not of type 'string', 'null'"
    ]


def test_control_plane_is_exempt(base_url: str) -> None:
    assert httpx.get(f"{base_url}/_sandbox/health", params={"anything": "goes"}).status_code == 200


@pytest.fixture
def lenient_url() -> Iterator[str]:
    app = create_app(SandboxRuntime(name="procore", dataset="small", seed=1, rate_limit_mode="off", strict=False))
    server = serve_in_thread(app)
    yield server.url
    server.stop()


def test_lenient_mode_lets_an_undocumented_parameter_through(lenient_url: str) -> None:
    token = issue_token(lenient_url)
    me = httpx.get(f"{lenient_url}/rest/v1.0/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["id"]
    companies = httpx.get(
        f"{lenient_url}/rest/v1.0/companies", params={"shoe_size": "9"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert companies.status_code == 200


@pytest.mark.reference
def test_the_packaged_spec_is_the_shared_reference_unchanged(reference_dir: Path) -> None:
    for packaged in (EXTRACT_FILE, SDK_MODELS_FILE):
        assert packaged.read_bytes() == (reference_dir / "procore" / packaged.name).read_bytes(), packaged.name
