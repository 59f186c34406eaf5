"""Strict mode: requests and answers of the Xero sandbox checked against Xero's own OpenAPI."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import httpx
import pytest
from fastapi.routing import APIRoute

from tests.sandbox.xero.conftest import API, XeroSandbox, first_bill_body
from trestle.models.msdate import format_ms_date
from trestle.sandbox.xero import routes_setup, routes_transactions
from trestle.sandbox.xero.openapi import accounting_spec
from trestle.sandbox.xero.strict import VIOLATION_TYPE, check_response


@pytest.fixture
def lenient(xero: XeroSandbox) -> Iterator[XeroSandbox]:
    """The same sandbox with strict mode switched off for one test."""
    xero.runtime.strict = False
    try:
        yield xero
    finally:
        xero.runtime.strict = True


def _violation(response: httpx.Response, status: int) -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["Type"] == VIOLATION_TYPE
    return body


def test_undocumented_query_parameter_is_refused(api: httpx.Client, xero: XeroSandbox) -> None:
    body = _violation(api.get("/Invoices", params={"page": 1, "modifiedAfter": "2026-01-01"}), 400)
    assert body["Operation"] == "GET /Invoices"
    assert body["Field"] == "query parameter 'modifiedAfter'"
    assert xero.app.state.strict_violations[-1].field == "query parameter 'modifiedAfter'"
    # A documented parameter spelt with another case is not the documented parameter either.
    assert _violation(api.get("/Invoices", params={"Page": 1}), 400)["Field"] == "query parameter 'Page'"


def test_if_modified_since_where_xero_ignores_it_is_refused(api: httpx.Client) -> None:
    headers = {"If-Modified-Since": "2026-01-01T00:00:00"}
    body = _violation(api.get("/TrackingCategories", headers=headers), 400)
    assert (body["Operation"], body["Field"]) == ("GET /TrackingCategories", "header 'if-modified-since'")
    assert api.get("/Contacts", params={"page": 1}, headers=headers).status_code == 200


def test_query_values_must_have_the_documented_type(api: httpx.Client) -> None:
    body = _violation(api.get("/Invoices", params={"page": "first"}), 400)
    assert body["Field"] == "query parameter 'page'" and "integer" in body["Message"]
    body = _violation(api.get("/Invoices", params={"IDs": "not-a-guid"}), 400)
    assert "uuid" in body["Message"]


def test_undocumented_body_field_is_refused_and_nothing_is_written(api: httpx.Client, xero: XeroSandbox) -> None:
    before = len(xero.state.contacts)
    response = api.put("/Contacts", json={"Contacts": [{"Name": "Nickname Pty Ltd", "Nickname": "NP"}]})
    body = _violation(response, 400)
    assert (body["Operation"], body["Field"]) == ("PUT /Contacts", "Contacts[0].Nickname")
    assert len(xero.state.contacts) == before


def test_nested_undocumented_field_and_wrong_type_are_refused(api: httpx.Client, xero: XeroSandbox) -> None:
    bill = first_bill_body(xero)
    bill["LineItems"][0]["Tracking"][0]["Colour"] = "red"
    body = _violation(api.put("/Invoices", json={"Invoices": [bill]}), 400)
    assert body["Field"] == "Invoices[0].LineItems[0].Tracking[0].Colour"
    typed = first_bill_body(xero, SentToContact="yes")
    body = _violation(api.put("/Invoices", json={"Invoices": [typed]}), 400)
    assert body["Field"] == "Invoices[0].SentToContact" and "boolean" in body["Message"]


def test_undocumented_body_shape_is_refused(api: httpx.Client, xero: XeroSandbox) -> None:
    """``POST /Payments/{id}`` takes a bare ``PaymentDelete``; the wrapped form is not in the schema."""
    payment_id = next(iter(xero.state.payments))
    body = _violation(api.post(f"/Payments/{payment_id}", json={"Payments": [{"Status": "DELETED"}]}), 400)
    assert body["Field"] == "Payments"


def test_unknown_operation_is_refused(api: httpx.Client) -> None:
    body = _violation(api.get("/Bills"), 400)
    assert body["Operation"] == "GET /Bills" and "no such operation" in body["Message"]


def test_out_of_schema_answer_fails_loudly(api: httpx.Client, xero: XeroSandbox) -> None:
    invoice = next(iter(xero.state.invoices.values()))
    invoice["Status"] = "APPROVED"  # not in the Invoice.Status enum
    body = _violation(api.get(f"/Invoices/{invoice['InvoiceID']}"), 500)
    assert body["Operation"] == "GET /Invoices/{InvoiceID}"
    assert body["Field"] == "Invoices[0].Status" and "APPROVED" in body["Message"]
    invoice["Status"] = "AUTHORISED"
    invoice["DueDate"] = "2026-10-31"  # an ISO string where Xero sends /Date()/
    body = _violation(api.get(f"/Invoices/{invoice['InvoiceID']}"), 500)
    assert body["Field"] == "Invoices[0].DueDate"
    invoice["DueDate"] = date(2026, 10, 31)
    invoice["ApprovedBy"] = "Site manager"  # a field no schema declares: a client must never rely on it
    body = _violation(api.get(f"/Invoices/{invoice['InvoiceID']}"), 500)
    assert body["Field"] == "Invoices[0].ApprovedBy" and "not declared" in body["Message"]


def test_lenient_mode_checks_nothing(api: httpx.Client, lenient: XeroSandbox) -> None:
    assert api.get("/Invoices", params={"page": 1, "modifiedAfter": "2026-01-01"}).status_code == 200


def test_validation_exception_echoes_dates_as_ms_dates(api: httpx.Client, xero: XeroSandbox) -> None:
    bill = first_bill_body(xero)
    bill["LineItems"][0]["AccountCode"] = "999"
    summarised = api.put("/Invoices", json={"Invoices": [bill]})
    assert summarised.status_code == 400, summarised.text
    element = summarised.json()["Elements"][0]
    assert (element["Date"], element["DueDate"]) == (
        format_ms_date(date(2026, 10, 1)),
        format_ms_date(date(2026, 10, 31)),
    )
    detailed = api.put("/Invoices", params={"summarizeErrors": "false"}, json={"Invoices": [bill]})
    assert detailed.status_code == 200, detailed.text
    echoed = detailed.json()["Invoices"][0]
    assert echoed["StatusAttributeString"] == "ERROR" and echoed["Date"] == format_ms_date(date(2026, 10, 1))
    payment = {"Invoice": {"InvoiceID": "00000000-0000-0000-0000-000000000001"}, "Account": {"Code": "090"}}
    refused = api.put("/Payments", json={"Payments": [payment | {"Date": "2026-11-02", "Amount": 10}]})
    assert refused.status_code == 400, refused.text
    assert refused.json()["Elements"][0]["Date"] == format_ms_date(date(2026, 11, 2))


def test_tenant_id_is_the_organisation_id(api: httpx.Client, xero: XeroSandbox) -> None:
    token = api.headers["Authorization"]
    connections = httpx.get(f"{xero.url}/connections", headers={"Authorization": token}).json()
    organisation = api.get("/Organisation").json()["Organisations"][0]
    assert [c["tenantId"] for c in connections] == [organisation["OrganisationID"]] == [xero.tenant_id]


def test_every_sandbox_route_is_a_documented_operation() -> None:
    spec = accounting_spec()
    routes = [r for r in routes_setup.router.routes + routes_transactions.router.routes if isinstance(r, APIRoute)]
    assert len(routes) > 30
    for route in routes:
        for method in route.methods:
            assert spec.match(method, route.path[len(API) :]) is not None, f"{method} {route.path}"


def test_undocumented_status_is_a_violation() -> None:
    spec = accounting_spec()
    operation = spec.match("PUT", "/Contacts")
    assert operation is not None
    violation = check_response(spec, operation, 201, "application/json", b"{}", b"")
    assert violation is not None and violation.field == "(status)"
    assert check_response(spec, operation, 429, "text/plain", b"Rate limit exceeded", b"") is None
