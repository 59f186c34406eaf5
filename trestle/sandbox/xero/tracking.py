"""Tracking categories and their options: limits, naming rules, archive-not-delete.

Xero's limits (help centre): at most 2 ACTIVE categories and 4 including archived ones; at
most 100 ACTIVE options per category (archived options do not count). Option names are unique
within a category (case-insensitive). A category or option used on any transaction line can
only be archived; deleting it fails validation.
"""

from __future__ import annotations

from trestle.sandbox.xero.state import ElementInvalid, Problems, Record, XeroState, new_id, normalise_id

MAX_ACTIVE_CATEGORIES = 2
MAX_CATEGORIES = 4
MAX_ACTIVE_OPTIONS = 100
_STATUSES = {"ACTIVE", "ARCHIVED"}


def _documents(state: XeroState) -> list[Record]:
    return [*state.invoices.values(), *state.credit_notes.values(), *state.purchase_orders.values()]


def used_option_ids(state: XeroState) -> set[str]:
    """Every tracking option ID referenced by a transaction line."""
    return {
        tracking["TrackingOptionID"]
        for document in _documents(state)
        for line in document.get("LineItems", [])
        for tracking in line.get("Tracking", [])
    }


def _live_categories(state: XeroState, except_id: str | None = None) -> list[Record]:
    return [
        category
        for cid, category in state.tracking_categories.items()
        if cid != except_id and category["Status"] != "DELETED"
    ]


def upsert_category(state: XeroState, element: Record, *, force_id: str | None = None) -> Record:
    """Create (no ID) or rename/archive/reactivate (with ID) a tracking category."""
    category_id = force_id or normalise_id(element.get("TrackingCategoryID"))
    existing = state.tracking_categories.get(category_id) if category_id else None
    if category_id and (existing is None or existing["Status"] == "DELETED"):
        raise ElementInvalid([f"The tracking category {category_id} could not be found."])
    candidate: Record = (
        dict(existing) if existing else {"TrackingCategoryID": new_id(), "Status": "ACTIVE", "Options": []}
    )
    if element.get("Name") is not None:
        candidate["Name"] = str(element["Name"]).strip()
    if element.get("Status") is not None:
        candidate["Status"] = str(element["Status"])
    problems = Problems()
    if not candidate.get("Name"):
        problems.add("Tracking category name must be specified.")
    elif len(candidate["Name"]) > 100:
        problems.add("Tracking category name must not be more than 100 characters long.")
    if candidate["Status"] not in _STATUSES:
        problems.add(f"'{candidate['Status']}' is not a valid tracking category status.")
    others = _live_categories(state, candidate["TrackingCategoryID"])
    name = str(candidate.get("Name") or "").casefold()
    if name and any(other["Name"].casefold() == name for other in others):
        problems.add(f"A tracking category with the name {candidate['Name']} already exists.")
    if existing is None and len(others) >= MAX_CATEGORIES:
        problems.add("You can only have 4 tracking categories, including archived ones.")
    becomes_active = candidate["Status"] == "ACTIVE" and (existing is None or existing["Status"] != "ACTIVE")
    if becomes_active and sum(1 for other in others if other["Status"] == "ACTIVE") >= MAX_ACTIVE_CATEGORIES:
        problems.add("You can only have 2 active tracking categories.")
    problems.raise_if_any()
    candidate["UpdatedDateUTC"] = state.stamp()
    state.tracking_categories[candidate["TrackingCategoryID"]] = candidate
    state.changed()
    return candidate


def delete_category(state: XeroState, category: Record) -> Record:
    """Delete an unused category; a used one must be archived instead."""
    used = used_option_ids(state)
    if any(option["TrackingOptionID"] in used for option in category["Options"]):
        raise ElementInvalid(["This tracking category has been used on transactions and can only be archived."])
    category["Status"] = "DELETED"
    for option in category["Options"]:
        option["Status"] = "DELETED"
    category["UpdatedDateUTC"] = state.stamp()
    state.changed()
    return category


def upsert_option(state: XeroState, category: Record, element: Record, *, force_id: str | None = None) -> Record:
    """Add an option to a category (no ID) or rename/archive/reactivate one (with ID)."""
    option_id = force_id or normalise_id(element.get("TrackingOptionID"))
    options = {option["TrackingOptionID"]: option for option in category["Options"]}
    existing = options.get(option_id) if option_id else None
    if option_id and (existing is None or existing["Status"] == "DELETED"):
        raise ElementInvalid([f"The tracking option {option_id} could not be found."])
    candidate: Record = dict(existing) if existing else {"TrackingOptionID": new_id(), "Status": "ACTIVE"}
    if element.get("Name") is not None:
        candidate["Name"] = str(element["Name"]).strip()
    if element.get("Status") is not None:
        candidate["Status"] = str(element["Status"])
    problems = Problems()
    if not candidate.get("Name"):
        problems.add("Tracking option name must be specified.")
    elif len(candidate["Name"]) > 100:
        problems.add("Tracking option name must not be more than 100 characters long.")
    if candidate["Status"] not in _STATUSES:
        problems.add(f"'{candidate['Status']}' is not a valid tracking option status.")
    others = [o for oid, o in options.items() if oid != candidate["TrackingOptionID"] and o["Status"] != "DELETED"]
    name = str(candidate.get("Name") or "").casefold()
    if name and any(other["Name"].casefold() == name for other in others):
        problems.add(f"The tracking option name {candidate['Name']} is already in use in this category.")
    becomes_active = candidate["Status"] == "ACTIVE" and (existing is None or existing["Status"] != "ACTIVE")
    if becomes_active and sum(1 for o in others if o["Status"] == "ACTIVE") >= MAX_ACTIVE_OPTIONS:
        problems.add(
            f"The tracking category {category['Name']} already has {MAX_ACTIVE_OPTIONS} active options; "
            "archive an option before adding another."
        )
    problems.raise_if_any()
    if existing is None:
        category["Options"].append(candidate)
    else:
        existing.update(candidate)
        candidate = existing
    category["UpdatedDateUTC"] = state.stamp()
    state.changed()
    return candidate


def delete_option(state: XeroState, category: Record, option: Record) -> Record:
    """Delete an unused option; a used one must be archived instead."""
    if option["TrackingOptionID"] in used_option_ids(state):
        raise ElementInvalid(
            [f"The tracking option {option['Name']} has been used on transactions and can only be archived."]
        )
    option["Status"] = "DELETED"
    category["UpdatedDateUTC"] = state.stamp()
    state.changed()
    return option


def find_option(category: Record, option_id: str) -> Record | None:
    """A non-deleted option of ``category`` by ID."""
    option: Record
    for option in category["Options"]:
        if option["TrackingOptionID"] == normalise_id(option_id) and option["Status"] != "DELETED":
            return option
    return None


def present_option(option: Record, category_id: str | None = None) -> Record:
    """An option with Xero's derived IsActive/IsArchived/IsDeleted flags."""
    return {
        "TrackingOptionID": option["TrackingOptionID"],
        "Name": option["Name"],
        "Status": option["Status"],
        "IsActive": option["Status"] == "ACTIVE",
        "IsArchived": option["Status"] == "ARCHIVED",
        "IsDeleted": option["Status"] == "DELETED",
        "TrackingCategoryID": category_id,
    }


def present_category(category: Record, *, include_archived: bool) -> Record:
    """A category with its visible options (archived ones only when asked for)."""
    visible = {"ACTIVE", "ARCHIVED"} if include_archived else {"ACTIVE"}
    return {
        "TrackingCategoryID": category["TrackingCategoryID"],
        "Name": category["Name"],
        "Status": category["Status"],
        "Options": [present_option(o) for o in category["Options"] if o["Status"] in visible],
    }


def resolve_line_tracking(state: XeroState, tracking: object, problems: Problems) -> list[Record]:
    """Turn a line's Tracking (Name+Option, or IDs) into stored ID references."""
    resolved: list[Record] = []
    if not isinstance(tracking, list):
        return resolved
    if len(tracking) > MAX_ACTIVE_CATEGORIES:
        problems.add("A line item can be tracked against at most 2 tracking categories.")
    for item in tracking:
        if not isinstance(item, dict):
            continue
        category = _find_category(state, item)
        if category is None:
            problems.add(f"The tracking category {item.get('Name') or item.get('TrackingCategoryID')} does not exist.")
            continue
        option = None
        for candidate in category["Options"]:
            if candidate["Status"] == "DELETED":
                continue
            by_id = item.get("TrackingOptionID") and candidate["TrackingOptionID"] == normalise_id(
                item["TrackingOptionID"]
            )
            by_name = item.get("Option") and candidate["Name"].casefold() == str(item["Option"]).strip().casefold()
            if by_id or by_name:
                option = candidate
                break
        label = item.get("Option") or item.get("TrackingOptionID")
        if option is None:
            problems.add(f"The tracking option {label} does not exist in tracking category {category['Name']}.")
            continue
        if option["Status"] != "ACTIVE":
            problems.add(f"The tracking option {option['Name']} is archived and cannot be used.")
            continue
        if any(ref["TrackingCategoryID"] == category["TrackingCategoryID"] for ref in resolved):
            problems.add(f"A line item can use only one option of tracking category {category['Name']}.")
            continue
        resolved.append(
            {"TrackingCategoryID": category["TrackingCategoryID"], "TrackingOptionID": option["TrackingOptionID"]}
        )
    return resolved


def _find_category(state: XeroState, item: Record) -> Record | None:
    wanted_id = normalise_id(item.get("TrackingCategoryID"))
    wanted_name = str(item.get("Name") or "").strip().casefold()
    for category in state.tracking_categories.values():
        if category["Status"] != "ACTIVE":
            continue
        if (wanted_id and category["TrackingCategoryID"] == wanted_id) or (
            not wanted_id and wanted_name and category["Name"].casefold() == wanted_name
        ):
            return category
    return None


def present_line_tracking(state: XeroState, references: list[Record]) -> list[Record]:
    """Line tracking as Xero shows it: IDs plus the current category and option names."""
    shown: list[Record] = []
    for ref in references:
        category = state.tracking_categories.get(ref["TrackingCategoryID"])
        if category is None:
            continue
        option = next((o for o in category["Options"] if o["TrackingOptionID"] == ref["TrackingOptionID"]), None)
        shown.append(
            {
                "TrackingCategoryID": category["TrackingCategoryID"],
                "TrackingOptionID": ref["TrackingOptionID"],
                "Name": category["Name"],
                "Option": option["Name"] if option else None,
            }
        )
    return shown
