"""Accounting routes for settings and contacts: Organisation, Accounts, TaxRates, Contacts,
ContactGroups and TrackingCategories (with their Options)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from trestle.sandbox.xero import contacts as contact_rules
from trestle.sandbox.xero import tracking as tracking_rules
from trestle.sandbox.xero.query import flag, list_param, param, run_query
from trestle.sandbox.xero.state import ElementInvalid, Record, XeroState, normalise_id
from trestle.sandbox.xero.wire import envelope, json_response, not_found
from trestle.sandbox.xero.writes import (
    ACCOUNTING_PREFIX,
    failed_element,
    read_elements,
    read_json,
    run_batch,
    run_single,
    validation_exception,
)

router = APIRouter(prefix=ACCOUNTING_PREFIX, include_in_schema=False)


def state_of(request: Request) -> XeroState:
    """The live organisation behind this app."""
    state: XeroState = request.app.state.xero
    return state


def _answer(plural: str, page_items: list[Record], pagination: dict[str, int] | None) -> Response:
    extra = {"pagination": pagination} if pagination is not None else {}
    return json_response(envelope(plural, page_items, **extra))


# -- organisation, accounts, tax rates ---------------------------------------------------


@router.get("/Organisation")
async def get_organisation(request: Request) -> Response:
    """The one organisation, in a one-element ``Organisations`` list."""
    return json_response(envelope("Organisations", [state_of(request).organisation]))


@router.get("/Accounts")
async def list_accounts(request: Request) -> Response:
    """The chart of accounts (unpaged; If-Modified-Since and where apply)."""
    state = state_of(request)
    page = run_query(request, state.accounts.values(), present=dict, pageable=False)
    return _answer("Accounts", page.items, None)


@router.get("/Accounts/{account_id}")
async def get_account(account_id: str, request: Request) -> Response:
    account = state_of(request).accounts.get(normalise_id(account_id))
    return json_response(envelope("Accounts", [account])) if account else not_found()


@router.get("/TaxRates")
async def list_tax_rates(request: Request) -> Response:
    """Tax rates (unpaged; If-Modified-Since is not supported here, as in Xero)."""
    page = run_query(
        request, state_of(request).tax_rates.values(), present=dict, pageable=False, supports_modified_since=False
    )
    return _answer("TaxRates", page.items, None)


@router.get("/TaxRates/{tax_type}")
async def get_tax_rate(tax_type: str, request: Request) -> Response:
    rate = state_of(request).tax_rates.get(tax_type.upper())
    return json_response(envelope("TaxRates", [rate])) if rate else not_found()


# -- contacts ----------------------------------------------------------------------------


@router.get("/Contacts")
async def list_contacts(request: Request) -> Response:
    """Contacts, paged; ARCHIVED ones only with ``includeArchived``."""
    state = state_of(request)
    ids = {normalise_id(value) for value in list_param(request, "IDs")}
    include_archived = flag(request, "includeArchived") or bool(ids)
    term = (param(request, "searchTerm") or "").strip().casefold()
    summary_only = flag(request, "summaryOnly")

    def narrow(rows: list[Record]) -> list[Record]:
        if ids:
            rows = [row for row in rows if row["ContactID"] in ids]
        if not include_archived:
            rows = [row for row in rows if row["ContactStatus"] != "ARCHIVED"]
        if term:
            fields = ("Name", "FirstName", "LastName", "ContactNumber", "CompanyNumber", "EmailAddress")
            rows = [row for row in rows if any(term in str(row.get(f) or "").casefold() for f in fields)]
        return rows

    page = run_query(
        request,
        state.contacts.values(),
        pre_filter=narrow,
        present=lambda row: contact_rules.present_contact(state, row, summary_only=summary_only),
    )
    return _answer("Contacts", page.items, page.pagination)


@router.get("/Contacts/{key}")
async def get_contact(key: str, request: Request) -> Response:
    """One contact by ContactID or ContactNumber."""
    state = state_of(request)
    contact = state.contact_by_key(key)
    if contact is None:
        return not_found()
    return json_response(envelope("Contacts", [contact_rules.present_contact(state, contact)]))


async def _write_contacts(request: Request, *, allow_update: bool) -> Response:
    state = state_of(request)
    elements = await read_elements(request, "Contacts")
    return run_batch(
        request,
        "Contacts",
        elements,
        lambda element: contact_rules.upsert_contact(state, element, allow_update=allow_update),
        lambda record: contact_rules.present_contact(state, record),
        flag="HasValidationErrors",
    )


@router.put("/Contacts")
async def create_contacts(request: Request) -> Response:
    """Create contacts."""
    return await _write_contacts(request, allow_update=False)


@router.post("/Contacts")
async def create_or_update_contacts(request: Request) -> Response:
    """Create contacts, or update those named by ContactID (or a known ContactNumber)."""
    return await _write_contacts(request, allow_update=True)


@router.post("/Contacts/{key}")
async def update_contact(key: str, request: Request) -> Response:
    """Update one contact (archive it with ``ContactStatus: ARCHIVED``)."""
    state = state_of(request)
    contact = state.contact_by_key(key)
    if contact is None:
        return not_found()
    elements = await read_elements(request, "Contacts")
    return run_single(
        "Contacts",
        elements[0] if elements else {},
        lambda element: contact_rules.upsert_contact(state, element, allow_update=True, force_id=contact["ContactID"]),
        lambda record: contact_rules.present_contact(state, record),
        flag="HasValidationErrors",
    )


# -- contact groups ----------------------------------------------------------------------


@router.get("/ContactGroups")
async def list_contact_groups(request: Request) -> Response:
    """Active groups, without their contacts."""
    state = state_of(request)
    page = run_query(
        request,
        state.contact_groups.values(),
        supports_modified_since=False,
        pageable=False,
        pre_filter=lambda rows: [row for row in rows if row["Status"] == "ACTIVE"],
        present=lambda row: contact_rules.present_contact_group(state, row, with_contacts=False),
    )
    return _answer("ContactGroups", page.items, None)


@router.get("/ContactGroups/{group_id}")
async def get_contact_group(group_id: str, request: Request) -> Response:
    """One group with its contacts filled in."""
    state = state_of(request)
    group = state.contact_groups.get(normalise_id(group_id))
    if group is None:
        return not_found()
    return json_response(
        envelope("ContactGroups", [contact_rules.present_contact_group(state, group, with_contacts=True)])
    )


@router.put("/ContactGroups")
async def create_contact_groups(request: Request) -> Response:
    state = state_of(request)
    elements = await read_elements(request, "ContactGroups")
    return run_batch(
        request,
        "ContactGroups",
        elements,
        lambda element: contact_rules.upsert_contact_group(state, {**element, "ContactGroupID": None}),
        lambda record: contact_rules.present_contact_group(state, record, with_contacts=False),
        flag="HasValidationErrors",
    )


@router.post("/ContactGroups/{group_id}")
async def update_contact_group(group_id: str, request: Request) -> Response:
    """Rename a group or delete it (``Status: DELETED``)."""
    state = state_of(request)
    group = state.contact_groups.get(normalise_id(group_id))
    if group is None:
        return not_found()
    elements = await read_elements(request, "ContactGroups")
    return run_single(
        "ContactGroups",
        elements[0] if elements else {},
        lambda element: contact_rules.upsert_contact_group(state, element, force_id=group["ContactGroupID"]),
        lambda record: contact_rules.present_contact_group(state, record, with_contacts=False),
        flag="HasValidationErrors",
    )


@router.put("/ContactGroups/{group_id}/Contacts")
async def add_contacts_to_group(group_id: str, request: Request) -> Response:
    """Add contacts (``{"Contacts": [{"ContactID": ...}]}``) to a group."""
    state = state_of(request)
    group = state.contact_groups.get(normalise_id(group_id))
    if group is None or group["Status"] != "ACTIVE":
        return not_found()
    elements = await read_elements(request, "Contacts")
    added: list[Record] = []
    failures: list[Record] = []
    for element in elements:
        try:
            contact = contact_rules.add_group_members(state, group, element)
        except ElementInvalid as exc:
            failures.append(failed_element(element, exc.messages, "HasValidationErrors"))
            continue
        added.append({"ContactID": contact["ContactID"], "Name": contact["Name"]})
    if failures:
        return validation_exception(failures)
    return json_response(envelope("Contacts", added))


@router.delete("/ContactGroups/{group_id}/Contacts")
async def remove_all_group_contacts(group_id: str, request: Request) -> Response:
    state = state_of(request)
    group = state.contact_groups.get(normalise_id(group_id))
    if group is None:
        return not_found()
    group["_members"].clear()
    state.changed()
    return Response(status_code=204)


@router.delete("/ContactGroups/{group_id}/Contacts/{contact_id}")
async def remove_group_contact(group_id: str, contact_id: str, request: Request) -> Response:
    state = state_of(request)
    group = state.contact_groups.get(normalise_id(group_id))
    if group is None or normalise_id(contact_id) not in group["_members"]:
        return not_found()
    group["_members"].remove(normalise_id(contact_id))
    state.changed()
    return Response(status_code=204)


# -- tracking categories -----------------------------------------------------------------


@router.get("/TrackingCategories")
async def list_tracking_categories(request: Request) -> Response:
    """Active categories and options; archived ones too with ``includeArchived``."""
    state = state_of(request)
    include_archived = flag(request, "includeArchived")
    visible = {"ACTIVE", "ARCHIVED"} if include_archived else {"ACTIVE"}
    page = run_query(
        request,
        state.tracking_categories.values(),
        supports_modified_since=False,
        pageable=False,
        pre_filter=lambda rows: [row for row in rows if row["Status"] in visible],
        present=lambda row: tracking_rules.present_category(row, include_archived=include_archived),
    )
    return _answer("TrackingCategories", page.items, None)


def _category(request: Request, category_id: str) -> Record | None:
    category = state_of(request).tracking_categories.get(normalise_id(category_id))
    return category if category is not None and category["Status"] != "DELETED" else None


@router.get("/TrackingCategories/{category_id}")
async def get_tracking_category(category_id: str, request: Request) -> Response:
    category = _category(request, category_id)
    if category is None:
        return not_found()
    return json_response(
        envelope("TrackingCategories", [tracking_rules.present_category(category, include_archived=True)])
    )


def _present_category(record: Record) -> Record:
    return tracking_rules.present_category(record, include_archived=True)


@router.put("/TrackingCategories")
async def create_tracking_category(request: Request) -> Response:
    """Create a category (a bare ``{"Name": ...}`` body, or the wrapped form)."""
    state = state_of(request)
    elements = await read_elements(request, "TrackingCategories", bare_ok=True)
    return run_batch(
        request,
        "TrackingCategories",
        elements,
        lambda element: tracking_rules.upsert_category(state, {**element, "TrackingCategoryID": None}),
        _present_category,
        flag="HasValidationErrors",
    )


@router.post("/TrackingCategories/{category_id}")
async def update_tracking_category(category_id: str, request: Request) -> Response:
    """Rename, archive or reactivate a category."""
    state = state_of(request)
    category = _category(request, category_id)
    if category is None:
        return not_found()
    elements = await read_elements(request, "TrackingCategories", bare_ok=True)
    return run_single(
        "TrackingCategories",
        elements[0] if elements else {},
        lambda element: tracking_rules.upsert_category(state, element, force_id=category["TrackingCategoryID"]),
        _present_category,
        flag="HasValidationErrors",
    )


@router.delete("/TrackingCategories/{category_id}")
async def delete_tracking_category(category_id: str, request: Request) -> Response:
    """Delete an unused category (used ones can only be archived)."""
    state = state_of(request)
    category = _category(request, category_id)
    if category is None:
        return not_found()
    return run_single(
        "TrackingCategories",
        {"TrackingCategoryID": category["TrackingCategoryID"]},
        lambda _element: tracking_rules.delete_category(state, category),
        _present_category,
        flag="HasValidationErrors",
    )


@router.put("/TrackingCategories/{category_id}/Options")
async def create_tracking_option(category_id: str, request: Request) -> Response:
    """Add one option: a bare ``{"Name": ...}``, the spec's only shape (answered as ``{"Options": [...]}``)."""
    state = state_of(request)
    category = _category(request, category_id)
    if category is None:
        return not_found()
    body = await read_json(request)
    return run_batch(
        request,
        "Options",
        [body if isinstance(body, dict) else {}],
        lambda element: tracking_rules.upsert_option(state, category, {**element, "TrackingOptionID": None}),
        tracking_rules.present_option,
        flag="HasValidationErrors",
    )


@router.post("/TrackingCategories/{category_id}/Options/{option_id}")
async def update_tracking_option(category_id: str, option_id: str, request: Request) -> Response:
    """Rename, archive or reactivate an option."""
    state = state_of(request)
    category = _category(request, category_id)
    option = tracking_rules.find_option(category, option_id) if category else None
    if category is None or option is None:
        return not_found()
    elements = await read_elements(request, "Options", bare_ok=True)
    return run_single(
        "Options",
        elements[0] if elements else {},
        lambda element: tracking_rules.upsert_option(state, category, element, force_id=option["TrackingOptionID"]),
        tracking_rules.present_option,
        flag="HasValidationErrors",
    )


@router.delete("/TrackingCategories/{category_id}/Options/{option_id}")
async def delete_tracking_option(category_id: str, option_id: str, request: Request) -> Response:
    """Delete an unused option (used ones can only be archived)."""
    state = state_of(request)
    category = _category(request, category_id)
    option = tracking_rules.find_option(category, option_id) if category else None
    if category is None or option is None:
        return not_found()
    return run_single(
        "Options",
        {"TrackingOptionID": option["TrackingOptionID"]},
        lambda _element: tracking_rules.delete_option(state, category, option),
        tracking_rules.present_option,
        flag="HasValidationErrors",
    )
