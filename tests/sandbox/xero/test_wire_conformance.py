"""Every response body the simulator sends validates against the official Xero OpenAPI schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests.sandbox.xero.conftest import XeroSandbox, first_bill_body

pytestmark = pytest.mark.reference


@pytest.fixture(scope="module")
def spec(reference_dir: Path) -> dict[str, Any]:
    with (reference_dir / "xero" / "xero_accounting.yaml").open() as handle:
        return yaml.safe_load(handle)


def _validator(spec: dict[str, Any], path: str, method: str) -> jsonschema.protocols.Validator:
    """A validator for the operation's 200 response schema, ``$ref``s resolved against the spec."""
    schema = spec["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
    registry = Registry().with_resource("urn:xero", Resource.from_contents(spec, default_specification=DRAFT4))
    rooted = {"$ref": "urn:xero" + schema["$ref"]} if "$ref" in schema else schema
    return jsonschema.Draft4Validator(rooted, registry=registry)


def _check(spec: dict[str, Any], path: str, method: str, response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    errors = sorted(_validator(spec, path, method).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])
    assert body["Status"] == "OK" and body["Id"] and body["DateTimeUTC"].startswith("/Date(")
    assert "null" not in response.text
    return body


def test_reads_conform(spec: dict[str, Any], api: httpx.Client, xero: XeroSandbox) -> None:
    contact_id = next(iter(xero.state.contacts))
    group_id = next(iter(xero.state.contact_groups))
    category_id = next(iter(xero.state.tracking_categories))
    invoice_id = next(iter(xero.state.invoices))
    payment_id = next(iter(xero.state.payments))
    reads = [
        ("/Organisation", "/Organisation", {}),
        ("/Accounts", "/Accounts", {}),
        ("/TaxRates", "/TaxRates", {}),
        ("/Contacts", "/Contacts", {"page": 1}),
        ("/Contacts/{ContactID}", f"/Contacts/{contact_id}", {}),
        ("/ContactGroups", "/ContactGroups", {}),
        ("/ContactGroups/{ContactGroupID}", f"/ContactGroups/{group_id}", {}),
        ("/TrackingCategories", "/TrackingCategories", {"includeArchived": "true"}),
        ("/TrackingCategories/{TrackingCategoryID}", f"/TrackingCategories/{category_id}", {}),
        ("/Invoices", "/Invoices", {"page": 1}),
        ("/Invoices/{InvoiceID}", f"/Invoices/{invoice_id}", {}),
        ("/Payments", "/Payments", {"page": 1}),
        ("/Payments/{PaymentID}", f"/Payments/{payment_id}", {}),
        ("/CreditNotes", "/CreditNotes", {"page": 1}),
        ("/PurchaseOrders", "/PurchaseOrders", {"page": 1}),
    ]
    for spec_path, url, params in reads:
        _check(spec, spec_path, "get", api.get(url, params=params))


def test_writes_conform(spec: dict[str, Any], api: httpx.Client, xero: XeroSandbox) -> None:
    contact = _check(
        spec,
        "/Contacts",
        "put",
        api.put(
            "/Contacts",
            json={
                "Contacts": [
                    {
                        "Name": "Conformance Pty Ltd",
                        "ContactNumber": "C-1",
                        "EmailAddress": "a@b.example",
                        "Addresses": [{"AddressType": "STREET", "AddressLine1": "1 George St", "City": "Sydney"}],
                    }
                ]
            },
        ),
    )
    contact_id = contact["Contacts"][0]["ContactID"]
    _check(
        spec,
        "/Contacts/{ContactID}",
        "post",
        api.post(f"/Contacts/{contact_id}", json={"Contacts": [{"EmailAddress": "new@b.example"}]}),
    )
    group = _check(spec, "/ContactGroups", "put", api.put("/ContactGroups", json={"ContactGroups": [{"Name": "G"}]}))
    group_id = group["ContactGroups"][0]["ContactGroupID"]
    _check(
        spec,
        "/ContactGroups/{ContactGroupID}/Contacts",
        "put",
        api.put(f"/ContactGroups/{group_id}/Contacts", json={"Contacts": [{"ContactID": contact_id}]}),
    )
    category_id = next(iter(xero.state.tracking_categories))
    option = _check(
        spec,
        "/TrackingCategories/{TrackingCategoryID}/Options",
        "put",
        api.put(f"/TrackingCategories/{category_id}/Options", json={"Name": "New option"}),
    )
    option_id = option["Options"][0]["TrackingOptionID"]
    _check(
        spec,
        "/TrackingCategories/{TrackingCategoryID}/Options/{TrackingOptionID}",
        "post",
        api.post(f"/TrackingCategories/{category_id}/Options/{option_id}", json={"Name": "Renamed"}),
    )
    bill = _check(spec, "/Invoices", "put", api.put("/Invoices", json={"Invoices": [first_bill_body(xero)]}))
    bill_id = bill["Invoices"][0]["InvoiceID"]
    _check(
        spec,
        "/Invoices/{InvoiceID}",
        "post",
        api.post(f"/Invoices/{bill_id}", json={"Invoices": [{"Reference": "ref"}]}),
    )
    payment = _check(
        spec,
        "/Payments",
        "put",
        api.put(
            "/Payments",
            json={
                "Payments": [
                    {"Invoice": {"InvoiceID": bill_id}, "Account": {"Code": "090"}, "Amount": 100, "Date": "2026-11-01"}
                ]
            },
        ),
    )
    _check(
        spec,
        "/Payments/{PaymentID}",
        "post",
        api.post(f"/Payments/{payment['Payments'][0]['PaymentID']}", json={"Status": "DELETED"}),
    )
    credit = first_bill_body(xero, Type="ACCPAYCREDIT")
    credit.pop("InvoiceNumber")
    _check(spec, "/CreditNotes", "put", api.put("/CreditNotes", json={"CreditNotes": [credit]}))
    order = first_bill_body(xero, Status="DRAFT")
    for key in ("Type", "InvoiceNumber", "DueDate"):
        order.pop(key)
    created = _check(spec, "/PurchaseOrders", "put", api.put("/PurchaseOrders", json={"PurchaseOrders": [order]}))
    assert created["PurchaseOrders"][0]["PurchaseOrderNumber"] == "PO-0001"
    _check(
        spec,
        "/PurchaseOrders/{PurchaseOrderID}",
        "get",
        api.get(f"/PurchaseOrders/{created['PurchaseOrders'][0]['PurchaseOrderID']}"),
    )
