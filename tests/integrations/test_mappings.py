"""Every field of the README's vendor mapping table reaches Procore, on created and on updated
vendors: the Xero contacts and the Procore vendors are both read back over the sandboxes' APIs."""

from __future__ import annotations

from typing import Any

import httpx
import pycountry
from trestle.flows.integrations import vendors_flow

from tests.integrations.apis import procore_api, xero_api
from trestle.cli import run_flow
from trestle.integrations.vendors import normalize_tax_number, postal_address, resolve_region
from trestle.models.xero import Contact


def _procore_vendors(procore: httpx.Client, company_id: str) -> dict[str, dict[str, Any]]:
    vendors = procore.get("/rest/v1.0/vendors", params={"company_id": company_id, "per_page": 1000}).json()
    return {vendor["origin_id"]: vendor for vendor in vendors if vendor.get("origin_id")}


def _contacts(xero: httpx.Client) -> dict[str, Contact]:
    raw = xero.get("/Contacts").json()["Contacts"]
    return {item["ContactID"]: Contact.model_validate(item) for item in raw}


def expected_vendor(contact: Contact) -> dict[str, Any]:
    """The README's table, written out independently of the integration's ``map``."""
    expected: dict[str, Any] = {"origin_id": contact.contact_id, "name": contact.name}
    if contact.contact_number:
        expected["origin_code"] = contact.contact_number
    if contact.email_address:
        expected["email_address"] = contact.email_address
    if contact.tax_number:
        expected["business_id"] = contact.tax_number
    phone = next((p for p in contact.phones or [] if p.phone_type == "DEFAULT" and p.phone_number), None)
    if phone is not None:
        parts = (phone.phone_country_code, phone.phone_area_code, phone.phone_number)
        expected["business_phone"] = " ".join(part for part in parts if part)
    address = postal_address(contact)
    if address is not None:
        lines = [line for line in (address.address_line1, address.address_line2, address.address_line3) if line]
        if lines:
            expected["address"] = ", ".join(lines)
        if address.city:
            expected["city"] = address.city
        if address.postal_code:
            expected["zip"] = address.postal_code
        country = pycountry.countries.get(alpha_2=(address.country or "").upper()) or pycountry.countries.get(
            alpha_3=(address.country or "").upper()
        )
        if country is not None:
            expected["country_code"] = country.alpha_2
            if address.region:
                expected["state_code"] = resolve_region(country, address.region)
    return expected


def _mismatches(contacts: dict[str, Contact], vendors: dict[str, dict[str, Any]], ids: set[str]) -> list[str]:
    wrong = []
    for contact_id in sorted(ids):
        vendor = vendors[contact_id]
        for field, value in expected_vendor(contacts[contact_id]).items():
            got = vendor.get(field)
            same = normalize_tax_number(got) == normalize_tax_number(value) if field == "business_id" else got == value
            if not same:
                wrong.append(f"{contacts[contact_id].name}: {field} is {got!r}, expected {value!r}")
    return wrong


def test_every_mapped_vendor_field_reaches_procore_on_create_and_update(trestle_env: dict[str, str]) -> None:
    xero, procore = xero_api(trestle_env), procore_api(trestle_env)
    company_id = trestle_env["TRESTLE_PROCORE_COMPANY_ID"]
    before = set(_procore_vendors(procore, company_id))

    first = run_flow(vendors_flow, notify=False)["integrations"]["vendors"]
    assert first["created"] > 0
    contacts, vendors = _contacts(xero), _procore_vendors(procore, company_id)
    created = set(vendors) - before
    with_tax = {contact_id for contact_id in created if contacts[contact_id].tax_number}
    assert with_tax, "the dataset should create vendors from contacts with a tax number"
    assert _mismatches(contacts, vendors, created) == []

    # Change every mapped field of one created vendor's contact in Xero; the next run sends them all.
    target = sorted(with_tax)[0]
    update = {
        "ContactID": target,
        "Name": contacts[target].name + " Renamed",
        "ContactNumber": "CN-4242",
        "EmailAddress": "ledger@renamed.example",
        "TaxNumber": "51 824 753 556",
        "Phones": [
            {"PhoneType": "DEFAULT", "PhoneCountryCode": "61", "PhoneAreaCode": "2", "PhoneNumber": "9999 0000"}
        ],
        "Addresses": [
            {
                "AddressType": "STREET",
                "AddressLine1": "1 New Street",
                "AddressLine2": "Level 2",
                "City": "Hobart",
                "Region": "Tasmania",
                "PostalCode": "7000",
                "Country": "AUS",
            }
        ],
    }
    xero.post("/Contacts", json={"Contacts": [update]}).raise_for_status()
    second = run_flow(vendors_flow, notify=False)["integrations"]["vendors"]
    assert second["updated"] >= 1
    contacts, vendors = _contacts(xero), _procore_vendors(procore, company_id)
    assert expected_vendor(contacts[target])["state_code"] == "TAS"
    assert _mismatches(contacts, vendors, {target}) == []
