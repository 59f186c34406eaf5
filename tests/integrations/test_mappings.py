"""Every field of the README's vendor mapping table reaches Procore, on created and on updated
vendors: the Xero contacts and the Procore vendors are both read back over the sandboxes' APIs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pycountry

from tests.integrations.apis import procore_api, xero_api
from trestle.cli import run_flow
from trestle.flows import get_flow
from trestle.integrations.vendors import VendorsIntegration, normalize_tax_number, postal_address, resolve_region
from trestle.models.xero import Address, Contact


def _procore_vendors(procore: httpx.Client, company_id: str) -> dict[str, dict[str, Any]]:
    vendors = procore.get("/rest/v1.0/vendors", params={"company_id": company_id, "per_page": 1000}).json()
    return {vendor["origin_id"]: vendor for vendor in vendors if vendor.get("origin_id")}


def _contacts(xero: httpx.Client) -> dict[str, Contact]:
    raw = xero.get("/Contacts").json()["Contacts"]
    return {item["ContactID"]: Contact.model_validate(item) for item in raw}


def _phone(contact: Contact) -> str | None:
    phone = next((p for p in contact.phones or [] if p.phone_type == "DEFAULT" and p.phone_number), None)
    if phone is None:
        return None
    parts = (phone.phone_country_code, phone.phone_area_code, phone.phone_number)
    return " ".join(part for part in parts if part)


def _address(contact: Contact) -> str | None:
    address = postal_address(contact)
    if address is None:
        return None
    lines = [line for line in (address.address_line1, address.address_line2, address.address_line3) if line]
    return ", ".join(lines) or None


def _country(contact: Contact) -> pycountry.db.Country | None:
    address = postal_address(contact)
    code = ((address.country if address else None) or "").upper()
    return pycountry.countries.get(alpha_2=code) or pycountry.countries.get(alpha_3=code) if code else None


def _state(contact: Contact) -> str | None:
    address, country = postal_address(contact), _country(contact)
    return resolve_region(country, address.region) if country is not None and address and address.region else None


# The README's table, written out independently of the integration's ``map``: Procore field → its
# value for a contact (None: nothing is sent). Keyed like VendorsIntegration.mapping, which the
# test walks, so a mapped field without an entry here fails.
EXPECTED_BY_FIELD: dict[str, Callable[[Contact], Any]] = {
    "origin_id": lambda contact: contact.contact_id,
    "origin_code": lambda contact: contact.contact_number or None,
    "name": lambda contact: contact.name,
    "address": _address,
    "city": lambda contact: (postal_address(contact) or Address()).city or None,
    "zip": lambda contact: (postal_address(contact) or Address()).postal_code or None,
    "country_code": lambda contact: country.alpha_2 if (country := _country(contact)) else None,
    "state_code": _state,
    "business_phone": _phone,
    "email_address": lambda contact: contact.email_address or None,
    "business_id": lambda contact: contact.tax_number or None,
}


def expected_vendor(contact: Contact) -> dict[str, Any]:
    """Every mapped Procore field the contact gives a value to, and that value."""
    expected = {}
    for row in VendorsIntegration.mapping:
        assert row.target in EXPECTED_BY_FIELD, f"no expected value for the mapped vendor field {row.target!r}"
        value = EXPECTED_BY_FIELD[row.target](contact)
        if value is not None:
            expected[row.target] = value
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

    first = run_flow(get_flow("vendors"), notify=False)["integrations"]["vendors"]
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
    second = run_flow(get_flow("vendors"), notify=False)["integrations"]["vendors"]
    assert second["updated"] >= 1
    contacts, vendors = _contacts(xero), _procore_vendors(procore, company_id)
    assert expected_vendor(contacts[target])["state_code"] == "TAS"
    assert _mismatches(contacts, vendors, {target}) == []
