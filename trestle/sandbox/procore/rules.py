"""Business rules for writes: what a client may set on each entity, and what Procore refuses.

Every ``create_*`` validates fully before it stores anything, and every ``update_*`` validates
before it changes anything, so a refused write leaves the state untouched. Failures raise
:class:`~.state.ValidationFailed` (422, or 409 for a taken origin_id).

Rules simulated (API_NOTES.md §8, §12): vendor name required; ISO-3166 alpha-2 country codes;
unknown cost codes refused; Approved/Complete commitments keep their vendor and schedule of values;
a record whose origin_id is set (direct costs, subcontractor invoices, contract payments) only
accepts changes to its origin fields.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pycountry

from .fields import Spec, add_error, changed, coerce
from .state import WORK_ORDER, ProcoreState, Record, ValidationFailed

ORIGIN_FIELDS = frozenset({"origin_id", "origin_data"})
FROZEN_COMMITMENT_STATUSES = frozenset({"Approved", "Complete"})
WOC_STATUSES = ("Draft", "Out For Bid", "Out For Signature", "Approved", "Complete", "Terminated", "Void")
POC_STATUSES = ("Draft", "Processing", "Submitted", "Partially Received", "Received", "Approved", "Closed")
REQUISITION_STATUSES = (
    "draft",
    "under_review",
    "revise_and_resubmit",
    "approved",
    "approved_as_noted",
    "pending_owner_approval",
)
LOCKED_REQUISITION_STATUSES = frozenset({"approved", "approved_as_noted"})
DIRECT_COST_TYPES = ("invoice", "expense", "payroll", "subcontractor_invoice")
DIRECT_COST_STATUSES = ("draft", "pending", "revise_and_resubmit", "approved")
PAYMENT_METHODS = ("check", "credit_card", "electronic")

_ORIGIN: Spec = {"origin_id": "str", "origin_data": "text", "origin_code": "str"}
VENDOR_SPEC: Spec = {
    "name": "str",
    "abbreviated_name": "str",
    "trade_name": "str",
    "address": "str",
    "city": "str",
    "state_code": "str",
    "zip": "str",
    "country_code": "str",
    "business_phone": "str",
    "mobile_phone": "str",
    "fax_number": "str",
    "email_address": "str",
    "website": "str",
    "license_number": "str",
    "notes": "text",
    "is_active": "bool",
    **_ORIGIN,
}
PROJECT_SPEC: Spec = {
    "name": "str",
    "project_number": "str",
    "active": "bool",
    "address": "str",
    "city": "str",
    "state_code": "str",
    "zip": "str",
    "country_code": "str",
    "description": "text",
    "start_date": "date",
    "completion_date": "date",
    "project_stage_id": "int",
    "standard_cost_code_list_id": "int",
    "accounting_project_number": "str",
    "time_zone": "str",
    **_ORIGIN,
}
COST_CODE_SPEC: Spec = {
    "code": "str",
    "name": "str",
    "parent_id": "int",
    "standard_cost_code_id": "int",
    "position": "int",
    "origin_id": "str",
    "origin_data": "text",
}
COMMITMENT_SPEC: Spec = {
    "number": "str",
    "title": "str",
    "status": "str",
    "vendor_id": "int",
    "description": "text",
    "executed": "bool",
    "private": "bool",
    "accounting_method": "str",
    "retainage_percent": "decimal",
    "contract_date": "date",
    "contract_start_date": "date",
    "contract_estimated_completion_date": "date",
    "issued_on_date": "date",
    "execution_date": "date",
    "signed_contract_received_date": "date",
    "inclusions": "text",
    "exclusions": "text",
    "bill_to_address": "str",
    "ship_to_address": "str",
    "ship_via": "str",
    "payment_terms": "str",
    "delivery_date": "date",
    **_ORIGIN,
}
LINE_ITEM_SPEC: Spec = {
    "amount": "decimal",
    "description": "text",
    "cost_code_id": "int",
    "line_item_type_id": "int",
    "tax_code_id": "int",
    "quantity": "decimal",
    "unit_cost": "decimal",
    "uom": "str",
    "extended_type": "str",
    "origin_id": "str",
    "origin_data": "text",
}
DIRECT_COST_SPEC: Spec = {
    "direct_cost_type": "str",
    "status": "str",
    "invoice_number": "str",
    "direct_cost_date": "date",
    "received_date": "date",
    "payment_date": "date",
    "terms": "str",
    "description": "text",
    "vendor_id": "int",
    "employee_id": "int",
    "origin_id": "str",
    "origin_data": "text",
}
PAYMENT_SPEC: Spec = {
    "date": "date",
    "amount": "decimal",
    "invoice_number": "str",
    "invoice_date": "date",
    "check_number": "str",
    "payment_number": "int",
    "payment_method": "str",
    "draw_request_number": "int",
    "requisition_id": "int",
    "notes": "text",
    "origin_id": "str",
    "origin_data": "text",
}
REQUISITION_SPEC: Spec = {
    "period_id": "int",
    "requisition_start": "date",
    "requisition_end": "date",
    "billing_date": "date",
    "final": "bool",
    "invoice_number": "str",
    "payment_date": "date",
    "status": "str",
    "submitted_at": "date",
    "comment": "text",
    "origin_id": "str",
    "origin_data": "text",
}


def finish(record: Record, values: dict[str, Any], state: ProcoreState, creating: bool) -> Record:
    """Store validated ``values`` on ``record`` and stamp it (created_at too when ``creating``)."""
    record.update(values)
    stamp = state.now()
    if creating:
        record["created_at"] = stamp
    record["updated_at"] = stamp
    return record


def raise_if(errors: dict[str, list[str]]) -> None:
    """Raise a 422 carrying ``errors`` if there are any."""
    if errors:
        raise ValidationFailed(errors)


def check_enum(errors: dict[str, list[str]], values: dict[str, Any], name: str, allowed: tuple[Any, ...]) -> None:
    """Record an error if ``values[name]`` is set but not one of ``allowed``."""
    if name in values and values[name] is not None and values[name] not in allowed:
        add_error(errors, name, f"must be one of: {', '.join(allowed)}")


def check_locked(
    record: Record, values: dict[str, Any], kind: str, extra_allowed: frozenset[str] = ORIGIN_FIELDS
) -> None:
    """Refuse (422) any change to a locked record except to the ``extra_allowed`` attributes."""
    blocked = changed(record, values) - extra_allowed
    if blocked:
        raise ValidationFailed(
            {name: [f"cannot be changed: the {kind} is synced to an ERP (origin_id is set)"] for name in blocked}
        )


# -- vendors ----------------------------------------------------------------------------------


def _vendor_values(state: ProcoreState, attrs: dict[str, Any], record: Record | None) -> dict[str, Any]:
    values, errors = coerce(attrs, VENDOR_SPEC)
    if "business_register_attributes" in attrs:
        _business_register(attrs["business_register_attributes"], values, errors)
    name = values.get("name", record["name"] if record else None)
    if not name or not str(name).strip():
        add_error(errors, "name", "can't be blank")
    country = values.get("country_code")
    if country:
        if len(country) != 2 or pycountry.countries.get(alpha_2=country.upper()) is None:
            add_error(errors, "country_code", "is not a valid ISO 3166-1 alpha-2 country code")
        else:
            values["country_code"] = country.upper()
    raise_if(errors)
    state.check_origin_free(state.vendors, values.get("origin_id"), record["id"] if record else None)
    return values


def _business_register(register: Any, values: dict[str, Any], errors: dict[str, list[str]]) -> None:
    """``business_register_attributes`` is the only writable tax number (ABN, EIN…); vendors show its
    ``identifier`` as ``business_id``. The spec leaves both nested fields untyped: we accept strings only."""
    if not isinstance(register, dict) or not isinstance(register.get("identifier"), str):
        add_error(errors, "business_register_attributes", "must be an object with a string identifier")
        return
    if not isinstance(register.get("type", ""), str):
        add_error(errors, "business_register_attributes", "type must be a string")
        return
    values["business_id"] = register["identifier"].strip() or None


def create_vendor(state: ProcoreState, attrs: dict[str, Any]) -> Record:
    """A new company vendor (active unless ``is_active`` says otherwise)."""
    values = _vendor_values(state, attrs, None)
    record: Record = {key: None for key in VENDOR_SPEC}
    record.update(id=state.new_id(), is_active=True, business_id=None, legal_name=None)
    state.vendors[record["id"]] = finish(record, values, state, creating=True)
    return record


def update_vendor(state: ProcoreState, record: Record, attrs: dict[str, Any]) -> Record:
    """Change a vendor's attributes."""
    return finish(record, _vendor_values(state, attrs, record), state, creating=False)


# -- projects ---------------------------------------------------------------------------------


def _project_values(state: ProcoreState, attrs: dict[str, Any], record: Record | None) -> dict[str, Any]:
    values, errors = coerce(attrs, PROJECT_SPEC)
    name = values.get("name", record["name"] if record else None)
    if not name or not str(name).strip():
        add_error(errors, "name", "can't be blank")
    stage_id = values.get("project_stage_id")
    if stage_id is not None and stage_id not in state.project_stages:
        add_error(errors, "project_stage_id", "is invalid")
    list_id = values.get("standard_cost_code_list_id")
    if list_id is not None and list_id not in state.standard_cost_code_lists:
        add_error(errors, "standard_cost_code_list_id", "is invalid")
    raise_if(errors)
    state.check_origin_free(state.projects, values.get("origin_id"), record["id"] if record else None)
    return values


def create_project(state: ProcoreState, attrs: dict[str, Any]) -> Record:
    """A new project in the first stage, active by default."""
    values = _project_values(state, attrs, None)
    record: Record = {key: None for key in PROJECT_SPEC}
    first_stage = min(state.project_stages) if state.project_stages else None
    default_list = min(state.standard_cost_code_lists) if state.standard_cost_code_lists else None
    record.update(id=state.new_id(), active=True, project_stage_id=first_stage, standard_cost_code_list_id=default_list)
    state.projects[record["id"]] = finish(record, values, state, creating=True)
    return record


def update_project(state: ProcoreState, record: Record, attrs: dict[str, Any]) -> Record:
    """Change a project's attributes."""
    return finish(record, _project_values(state, attrs, record), state, creating=False)


# -- project cost codes -----------------------------------------------------------------------


def _cost_code_values(
    state: ProcoreState, project_id: int, attrs: dict[str, Any], record: Record | None
) -> dict[str, Any]:
    values, errors = coerce(attrs, COST_CODE_SPEC)
    for name in ("code", "name"):
        if not values.get(name, record[name] if record else None):
            add_error(errors, name, "can't be blank")
    parent_id = values.get("parent_id")
    parent = state.cost_codes.get(parent_id) if parent_id is not None else None
    if parent_id is not None and (parent is None or parent["project_id"] != project_id):
        add_error(errors, "parent_id", "is invalid")
    standard_id = values.get("standard_cost_code_id")
    if standard_id is not None and standard_id not in state.standard_cost_codes:
        add_error(errors, "standard_cost_code_id", "is invalid")
    raise_if(errors)
    state.check_origin_free(state.cost_codes, values.get("origin_id"), record["id"] if record else None)
    code = values.get("code", record["code"] if record else "")
    parent_id = values.get("parent_id", record.get("parent_id") if record else None)
    parent = state.cost_codes.get(parent_id) if parent_id is not None else None
    values["full_code"] = f"{parent['full_code']}-{code}" if parent else code
    values["sortable_code"] = values["full_code"]
    return values


def create_cost_code(state: ProcoreState, project_id: int, attrs: dict[str, Any]) -> Record:
    """A new cost code on a project."""
    values = _cost_code_values(state, project_id, attrs, None)
    record: Record = {key: None for key in COST_CODE_SPEC}
    record.update(id=state.new_id(), project_id=project_id, deleted_at=None)
    state.cost_codes[record["id"]] = finish(record, values, state, creating=True)
    return record


def update_cost_code(state: ProcoreState, record: Record, attrs: dict[str, Any]) -> Record:
    """Change a project cost code."""
    values = _cost_code_values(state, record["project_id"], attrs, record)
    return finish(record, values, state, creating=False)


def check_cost_code(
    state: ProcoreState, project_id: int, cost_code_id: int | None, errors: dict[str, list[str]]
) -> None:
    """Record an error unless ``cost_code_id`` is a live cost code of ``project_id``."""
    code = state.cost_codes.get(cost_code_id) if cost_code_id is not None else None
    if cost_code_id is not None and (code is None or code["project_id"] != project_id or code["deleted_at"]):
        add_error(errors, "cost_code_id", "is invalid: no such cost code on this project")


def check_vendor(state: ProcoreState, vendor_id: int | None, errors: dict[str, list[str]]) -> None:
    """Record an error unless ``vendor_id`` is a company vendor."""
    if vendor_id is not None and vendor_id not in state.vendors:
        add_error(errors, "vendor_id", "is invalid: no such vendor")


# -- commitments and their schedule of values -------------------------------------------------


def _commitment_values(
    state: ProcoreState, type_name: str, attrs: dict[str, Any], record: Record | None
) -> dict[str, Any]:
    values, errors = coerce(attrs, COMMITMENT_SPEC)
    check_enum(errors, values, "status", WOC_STATUSES if type_name == WORK_ORDER else POC_STATUSES)
    check_enum(errors, values, "accounting_method", ("amount", "unit"))
    check_vendor(state, values.get("vendor_id"), errors)
    if record is not None and record["status"] in FROZEN_COMMITMENT_STATUSES and "vendor_id" in changed(record, values):
        add_error(errors, "vendor_id", f"cannot be changed on a commitment that is {record['status']}")
    if record is None and not values.get("title") and not values.get("number"):
        add_error(errors, "title", "can't be blank")
    raise_if(errors)
    state.check_origin_free(
        state.commitments, values.get("origin_id"), record["id"] if record else None, type=type_name
    )
    return values


def create_commitment(state: ProcoreState, project_id: int, type_name: str, attrs: dict[str, Any]) -> Record:
    """A new work order or purchase order contract (header only; the SOV is added afterwards)."""
    values = _commitment_values(state, type_name, attrs, None)
    record: Record = {key: None for key in COMMITMENT_SPEC}
    record.update(
        id=state.new_id(),
        type=type_name,
        project_id=project_id,
        status="Draft",
        executed=False,
        private=False,
        accounting_method="amount",
        retainage_percent=Decimal(0),
        deleted_at=None,
        line_items=[],
    )
    state.commitments[record["id"]] = finish(record, values, state, creating=True)
    return record


def update_commitment(state: ProcoreState, record: Record, attrs: dict[str, Any]) -> Record:
    """Change a commitment header (vendor frozen once Approved/Complete)."""
    values = _commitment_values(state, record["type"], attrs, record)
    return finish(record, values, state, creating=False)


def _refuse_frozen_sov(commitment: Record) -> None:
    if commitment["status"] in FROZEN_COMMITMENT_STATUSES:
        raise ValidationFailed(
            {"base": [f"The schedule of values of a {commitment['status']} commitment cannot be changed"]}
        )


def line_values(state: ProcoreState, project_id: int, attrs: dict[str, Any]) -> dict[str, Any]:
    """Validated values for a commitment or direct cost line (``manual_amount`` accepted for amount)."""
    values, errors = coerce(attrs, LINE_ITEM_SPEC)
    if "amount" not in values and "manual_amount" in attrs:
        values.update(coerce({"amount": attrs["manual_amount"]}, LINE_ITEM_SPEC)[0])
    check_cost_code(state, project_id, values.get("cost_code_id"), errors)
    if values.get("line_item_type_id") is not None and values["line_item_type_id"] not in state.line_item_types:
        add_error(errors, "line_item_type_id", "is invalid")
    if values.get("tax_code_id") is not None and values["tax_code_id"] not in state.tax_codes:
        add_error(errors, "tax_code_id", "is invalid")
    check_enum(errors, values, "extended_type", ("manual", "calculated"))
    raise_if(errors)
    if values.get("extended_type") == "calculated" and values.get("quantity") is not None:
        values["amount"] = values["quantity"] * (values.get("unit_cost") or Decimal(0))
    return values


def add_line_item(state: ProcoreState, holder: Record, attrs: dict[str, Any]) -> Record:
    """Append a schedule-of-values line to a commitment or a direct cost."""
    if "type" in holder:
        _refuse_frozen_sov(holder)
    elif holder.get("origin_id"):
        raise ValidationFailed({"base": ["The direct cost is synced to an ERP (origin_id is set)"]})
    values = line_values(state, holder["project_id"], attrs)
    line: Record = {key: None for key in LINE_ITEM_SPEC}
    line.update(id=state.new_id(), amount=Decimal(0), extended_type="manual", position=len(holder["line_items"]))
    holder["line_items"].append(finish(line, values, state, creating=True))
    holder["updated_at"] = line["updated_at"]
    return line


def update_line_item(state: ProcoreState, holder: Record, line: Record, attrs: dict[str, Any]) -> Record:
    """Change one line of a commitment's SOV or a direct cost."""
    values = line_values(state, holder["project_id"], attrs)
    if changed(line, values):
        if "type" in holder:
            _refuse_frozen_sov(holder)
        elif holder.get("origin_id"):
            raise ValidationFailed({"base": ["The direct cost is synced to an ERP (origin_id is set)"]})
    finish(line, values, state, creating=False)
    holder["updated_at"] = line["updated_at"]
    return line


def remove_line_item(state: ProcoreState, holder: Record, line: Record) -> None:
    """Take one line off a direct cost (refused while its ``origin_id`` locks it)."""
    if holder.get("origin_id"):
        raise ValidationFailed({"base": ["The direct cost is synced to an ERP (origin_id is set)"]})
    holder["line_items"] = [kept for kept in holder["line_items"] if kept["id"] != line["id"]]
    holder["updated_at"] = state.now()
