"""Contacts and contact groups: validation, create/update, and how they are presented.

Rules enforced: ``Name`` required and unique (case-insensitive) among ACTIVE contacts;
``ContactNumber`` unique; contacts are archived (``ContactStatus: ARCHIVED``), never deleted;
at most 100 active contact groups with unique names. Contact group membership lives on the
group (``_members``); changing it does not move the contact's ``UpdatedDateUTC`` (Xero's docs
list several edits that do not, and membership is not documented either way).
"""

from __future__ import annotations

from typing import Any

from trestle.sandbox.xero.state import ElementInvalid, Problems, Record, XeroState, new_id, normalise_id
from trestle.sandbox.xero.wire import BadValue, parse_decimal

CONTACT_FIELDS = (
    "ContactNumber",
    "AccountNumber",
    "ContactStatus",
    "Name",
    "FirstName",
    "LastName",
    "CompanyNumber",
    "EmailAddress",
    "BankAccountDetails",
    "TaxNumber",
    "TaxNumberType",
    "AccountsReceivableTaxType",
    "AccountsPayableTaxType",
    "SalesDefaultLineAmountType",
    "PurchasesDefaultLineAmountType",
    "DefaultCurrency",
    "SalesDefaultAccountCode",
    "PurchasesDefaultAccountCode",
    "PaymentTerms",
    "ContactPersons",
)
_STRING_LIMITS = {
    "Name": 255,
    "FirstName": 255,
    "LastName": 255,
    "ContactNumber": 50,
    "AccountNumber": 50,
    "TaxNumber": 50,
    "CompanyNumber": 50,
}
_ADDRESS_TYPES = ("POBOX", "STREET")
_PHONE_TYPES = ("DEFAULT", "DDI", "FAX", "MOBILE")
_ADDRESS_FIELDS = (
    "AddressLine1",
    "AddressLine2",
    "AddressLine3",
    "AddressLine4",
    "City",
    "Region",
    "PostalCode",
    "Country",
    "AttentionTo",
)
_PHONE_FIELDS = ("PhoneNumber", "PhoneAreaCode", "PhoneCountryCode")
MAX_CONTACT_GROUPS = 100


def _merge_typed(existing: list[Record], incoming: Any, type_key: str, fields: tuple[str, ...]) -> list[Record]:
    """Merge Addresses/Phones by their type: a sent type replaces the stored one."""
    merged = {item[type_key]: item for item in existing}
    for item in incoming if isinstance(incoming, list) else []:
        if isinstance(item, dict) and item.get(type_key):
            merged[str(item[type_key])] = {type_key: str(item[type_key])} | {
                name: str(item[name]) for name in fields if item.get(name) is not None
            }
    return list(merged.values())


def _name_taken(state: XeroState, name: str, except_id: str | None) -> bool:
    folded = name.strip().casefold()
    return any(
        contact["ContactStatus"] == "ACTIVE" and contact["Name"].strip().casefold() == folded
        for contact_id, contact in state.contacts.items()
        if contact_id != except_id
    )


def upsert_contact(state: XeroState, element: Record, *, allow_update: bool, force_id: str | None = None) -> Record:
    """Create a contact, or update the one the element names (by ContactID or ContactNumber)."""
    problems = Problems()
    contact_id = force_id or normalise_id(element.get("ContactID"))
    existing: Record | None = None
    if contact_id:
        existing = state.contacts.get(contact_id)
        if existing is None:
            raise ElementInvalid([f"The contact with ContactID {element.get('ContactID')} could not be found."])
    elif allow_update and element.get("ContactNumber"):
        existing = state.contact_by_key(str(element["ContactNumber"]))
    if existing is not None and not allow_update:
        raise ElementInvalid(["Contacts cannot be updated with PUT; use POST."])
    candidate: Record = (
        dict(existing)
        if existing
        else {
            "ContactID": new_id(),
            "ContactStatus": "ACTIVE",
            "Addresses": [],
            "Phones": [],
            "IsSupplier": False,
            "IsCustomer": False,
            "ContactPersons": [],
        }
    )
    for name in CONTACT_FIELDS:
        if name in element and element[name] is not None:
            candidate[name] = element[name] if name in {"PaymentTerms", "ContactPersons"} else str(element[name])
    if "Discount" in element and element["Discount"] is not None:
        try:
            candidate["Discount"] = parse_decimal(element["Discount"], "Discount")
        except BadValue as exc:
            problems.add(str(exc))
    candidate["Addresses"] = _merge_typed(
        candidate["Addresses"], element.get("Addresses"), "AddressType", _ADDRESS_FIELDS
    )
    candidate["Phones"] = _merge_typed(candidate["Phones"], element.get("Phones"), "PhoneType", _PHONE_FIELDS)
    name = str(candidate.get("Name") or "").strip()
    if not name:
        problems.add("The contact name must be specified.")
    for field_name, limit in _STRING_LIMITS.items():
        if len(str(candidate.get(field_name) or "")) > limit:
            problems.add(f"{field_name} must not be more than {limit} characters long.")
    if candidate["ContactStatus"] not in {"ACTIVE", "ARCHIVED", "GDPRREQUEST"}:
        problems.add(f"'{candidate['ContactStatus']}' is not a valid contact status.")
    own_id = existing["ContactID"] if existing else None
    if name and candidate["ContactStatus"] == "ACTIVE" and _name_taken(state, name, own_id):
        problems.add(
            f"The contact name {name} is already assigned to another contact. "
            "The contact name must be unique across all active contacts."
        )
    number = candidate.get("ContactNumber")
    if number and any(other.get("ContactNumber") == number for cid, other in state.contacts.items() if cid != own_id):
        problems.add(f"The contact number {number} is already assigned to another contact.")
    problems.raise_if_any()
    candidate["UpdatedDateUTC"] = state.stamp()
    state.contacts[candidate["ContactID"]] = candidate
    state.changed()
    return candidate


def resolve_contact(state: XeroState, reference: Any, problems: Problems) -> Record | None:
    """The contact a transaction names by ContactID, ContactNumber or Name.

    As Xero does, a Name that matches no contact creates a new one.
    """
    if not isinstance(reference, dict) or not any(reference.get(k) for k in ("ContactID", "ContactNumber", "Name")):
        problems.add(
            "The Contact must contain at least 1 of the following elements to identify the contact: "
            "Name, ContactID, ContactNumber"
        )
        return None
    if reference.get("ContactID"):
        found = state.contacts.get(normalise_id(reference["ContactID"]))
        if found is None:
            problems.add(f"The contact with ContactID {reference['ContactID']} could not be found.")
        return found
    if reference.get("ContactNumber"):
        found = state.contact_by_key(str(reference["ContactNumber"]))
        if found is None:
            problems.add(f"The contact with ContactNumber {reference['ContactNumber']} could not be found.")
        return found
    name = str(reference["Name"]).strip()
    for contact in state.contacts.values():
        if contact["ContactStatus"] == "ACTIVE" and contact["Name"].strip().casefold() == name.casefold():
            return contact
    return None


def ensure_contact(state: XeroState, reference: Record, found: Record | None) -> Record:
    """Return ``found``, or create the contact a Name-only reference asked for."""
    if found is not None:
        return found
    return upsert_contact(state, {"Name": reference["Name"]}, allow_update=False)


def contact_summary(contact: Record) -> Record:
    """How a contact appears inside invoices, credit notes and purchase orders."""
    return {
        "ContactID": contact["ContactID"],
        "ContactNumber": contact.get("ContactNumber"),
        "Name": contact["Name"],
        "ContactStatus": contact["ContactStatus"],
        "Addresses": [],
        "Phones": [],
        "ContactGroups": [],
        "ContactPersons": [],
        "HasValidationErrors": False,
    }


def groups_of(state: XeroState, contact_id: str) -> list[Record]:
    """The active groups a contact belongs to, as Contact.ContactGroups lists them."""
    return [
        {"ContactGroupID": group["ContactGroupID"], "Name": group["Name"], "Status": group["Status"], "Contacts": []}
        for group in state.contact_groups.values()
        if group["Status"] == "ACTIVE" and contact_id in group["_members"]
    ]


def present_contact(state: XeroState, contact: Record, *, summary_only: bool = False) -> Record:
    """A contact as the API returns it, padded with Xero's empty addresses and phones."""
    view = {key: value for key, value in contact.items() if key not in {"Addresses", "Phones"}}
    view["HasAttachments"] = False
    view["HasValidationErrors"] = False
    if summary_only:
        for heavy in ("ContactPersons", "PaymentTerms"):
            view.pop(heavy, None)
        return view
    addresses = {item["AddressType"]: item for item in contact["Addresses"]}
    view["Addresses"] = [
        addresses.get(kind, {"AddressType": kind, "City": "", "Region": "", "PostalCode": "", "Country": ""})
        for kind in _ADDRESS_TYPES
    ] + [item for kind, item in addresses.items() if kind not in _ADDRESS_TYPES]
    phones = {item["PhoneType"]: item for item in contact["Phones"]}
    view["Phones"] = [
        phones.get(kind, {"PhoneType": kind, "PhoneNumber": "", "PhoneAreaCode": "", "PhoneCountryCode": ""})
        for kind in _PHONE_TYPES
    ] + [item for kind, item in phones.items() if kind not in _PHONE_TYPES]
    view["ContactGroups"] = groups_of(state, contact["ContactID"])
    return view


# -- contact groups ----------------------------------------------------------------------


def upsert_contact_group(state: XeroState, element: Record, *, force_id: str | None = None) -> Record:
    """Create a group (PUT) or rename/delete one (POST ``{"Name"|"Status": "DELETED"}``)."""
    group_id = force_id or normalise_id(element.get("ContactGroupID"))
    existing = state.contact_groups.get(group_id) if group_id else None
    if group_id and existing is None:
        raise ElementInvalid([f"The contact group with ContactGroupID {group_id} could not be found."])
    candidate: Record = dict(existing) if existing else {"ContactGroupID": new_id(), "Status": "ACTIVE", "_members": []}
    problems = Problems()
    if element.get("Name") is not None:
        candidate["Name"] = str(element["Name"]).strip()
    if element.get("Status") is not None:
        candidate["Status"] = str(element["Status"])
    if not candidate.get("Name"):
        problems.add("The contact group name must be specified.")
    if candidate["Status"] not in {"ACTIVE", "DELETED"}:
        problems.add(f"'{candidate['Status']}' is not a valid contact group status.")
    active_others = [
        group
        for gid, group in state.contact_groups.items()
        if gid != candidate["ContactGroupID"] and group["Status"] == "ACTIVE"
    ]
    if candidate["Status"] == "ACTIVE" and candidate.get("Name"):
        if any(group["Name"].casefold() == candidate["Name"].casefold() for group in active_others):
            problems.add(f"A contact group with the name {candidate['Name']} already exists.")
        if existing is None and len(active_others) >= MAX_CONTACT_GROUPS:
            problems.add("You've reached the limit of 100 contact groups.")
    problems.raise_if_any()
    state.contact_groups[candidate["ContactGroupID"]] = candidate
    state.changed()
    return candidate


def add_group_members(state: XeroState, group: Record, element: Record) -> Record:
    """Put one contact (named by ContactID) into a group; returns the contact."""
    contact = state.contacts.get(normalise_id(element.get("ContactID")))
    if contact is None:
        raise ElementInvalid([f"The contact with ContactID {element.get('ContactID')} could not be found."])
    if contact["ContactID"] not in group["_members"]:
        group["_members"].append(contact["ContactID"])
        state.changed()
    return contact


def present_contact_group(state: XeroState, group: Record, *, with_contacts: bool) -> Record:
    """A group as listed (empty ``Contacts``) or fetched by ID (``Contacts`` filled)."""
    members = [state.contacts[cid] for cid in group["_members"] if cid in state.contacts] if with_contacts else []
    return {
        "ContactGroupID": group["ContactGroupID"],
        "Name": group["Name"],
        "Status": group["Status"],
        "Contacts": [{"ContactID": c["ContactID"], "Name": c["Name"]} for c in members],
    }
