"""The ``view`` query parameter of every Procore operation that has one, as data.

Procore describes each operation's views in prose (the ``view`` parameter's description, or
"(present in all views)" / "Included only when …" on response attributes). Each
:class:`ViewTable` below encodes one operation: its default view and the attribute set of every
view in the parameter's enum, with the sentence it rests on. The sandbox returns exactly that set
(:func:`apply_view`) and strict mode refuses a response carrying more (``strict.py``).

Where the spec names a view without saying what it holds, the narrowest reading is taken: the
record carries ``id`` only. A client that needs more must ask for a view whose attributes are
documented. ``docs/FIDELITY.md`` lists each reading.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from .spec import load_spec


@dataclass(frozen=True)
class View:
    """One view's attribute set: ``only`` these, or the full schema ``without`` some; ``ids``: bare integer ids."""

    source: str
    only: frozenset[str] | None = None
    without: frozenset[str] = frozenset()
    ids: bool = False

    def allows(self, name: str) -> bool:
        """Whether a record of this view may carry attribute ``name``."""
        if self.ids:
            return False
        return (self.only is None or name in self.only) and name not in self.without

    def apply(self, record: Any) -> Any:
        """``record`` cut to this view (an id alone for the ``ids`` view)."""
        if not isinstance(record, Mapping):
            return record
        if self.ids:
            return record["id"]
        return {name: value for name, value in record.items() if self.allows(name)}


@dataclass(frozen=True)
class ViewTable:
    """The views of one operation."""

    default: str
    views: Mapping[str, View]
    source: str  # the sentence naming the default (or the reading taken where none does)

    def resolve(self, requested: str | None) -> View:
        """The view a request asked for (the default when it asked for none or an unknown one)."""
        return self.views.get(requested or self.default) or self.views[self.default]


def _id_only(view: str) -> View:
    return View(
        source=f"The spec lists '{view}' without its attributes; narrowest reading: id only.",
        only=frozenset({"id"}),
    )


def _full(sentence: str) -> View:
    return View(source=sentence)


_VENDOR_DEFAULT = "The default view is extended."
_VENDOR = ViewTable(
    default="extended",
    source=_VENDOR_DEFAULT,
    views={
        "extended": _full(f"{_VENDOR_DEFAULT} The response schema is titled 'Vendor Extended View'."),
        **{name: _id_only(name) for name in ("compact", "normal", "erp", "directory", "summary")},
    },
)

_REQUISITION_ONLY_EXTENDED_OR_ITEMS = frozenset({"items", "item_packages"})
_ACTION_POLICY = frozenset({"action_policy"})
_ITEMS_SENTENCE = "items / item_packages: 'Included only when the views query param includes 'extended' or 'items'.'"
_POLICY_SENTENCE = "action_policy: '(present in action_policy or extended views)'."
_REQUISITION_V11 = ViewTable(
    default="default",
    source="The enum's first value 'default' (the description names no default; a request without view gets it).",
    views={
        "default": View(
            source=f"{_ITEMS_SENTENCE} {_POLICY_SENTENCE}",
            without=_REQUISITION_ONLY_EXTENDED_OR_ITEMS | _ACTION_POLICY,
        ),
        "extended": _full(f"{_ITEMS_SENTENCE} {_POLICY_SENTENCE}"),
        "items": View(source=f"{_ITEMS_SENTENCE} {_POLICY_SENTENCE}", without=_ACTION_POLICY),
        "action_policy": View(
            source=f"{_ITEMS_SENTENCE} {_POLICY_SENTENCE}", without=_REQUISITION_ONLY_EXTENDED_OR_ITEMS
        ),
    },
)

_STANDARD_CODE_SENTENCE = (
    "The 'default' view only returns id and standard_cost_code_list_id. The 'compact' view also includes "
    "origin_id. The 'extended' view includes the more complete list of attributes shown below."
)
_STANDARD_CODE = ViewTable(
    default="default",
    source=_STANDARD_CODE_SENTENCE,
    views={
        "default": View(source=_STANDARD_CODE_SENTENCE, only=frozenset({"id", "standard_cost_code_list_id"})),
        "compact": View(
            source=_STANDARD_CODE_SENTENCE, only=frozenset({"id", "standard_cost_code_list_id", "origin_id"})
        ),
        "extended": _full(_STANDARD_CODE_SENTENCE),
    },
)

_PROJECTS_V11_SENTENCE = (
    "'ids' return only id as an Integer (…), 'compact' returns only id and name, 'normal' r…"
    " (the extract cuts the sentence there)"
)
_PROJECTS_V11 = ViewTable(
    default="compact",
    source="No default is stated (the sentence is cut); narrowest reading: 'compact'.",
    views={
        "ids": View(source=_PROJECTS_V11_SENTENCE, ids=True),
        "compact": View(source=_PROJECTS_V11_SENTENCE, only=frozenset({"id", "name"})),
        "normal": _full(f"{_PROJECTS_V11_SENTENCE}; reading: the project list record (the v1.0 list item schema)."),
        "extended": _full(f"{_PROJECTS_V11_SENTENCE}; reading: no more than the project list record."),
    },
)

_PROJECT_MINIMAL_SENTENCE = (
    "'minimal' returns a subset of project fields including name, project_number, country_code, latitude, "
    "longitude, county,..."
)
_PROJECT_SHOW = ViewTable(
    default="default",
    source="A request without view gets the full show schema (the enum has 'minimal' only; 'default' is no value).",
    views={
        "default": _full("The 200 schema of the operation."),
        "minimal": View(
            source=f"{_PROJECT_MINIMAL_SENTENCE} (the list is cut; reading: id plus the named fields)",
            only=frozenset({"id", "name", "project_number", "country_code", "latitude", "longitude", "county"}),
        ),
    },
)


def _commitment_list(kind: str) -> ViewTable:
    sentence = (
        f"Specifies how much information to show for each {kind} contract. The compact view is returned by default."
    )
    return ViewTable(
        default="compact",
        source=sentence,
        views={
            "compact": _full(f"{sentence} The 200 schema is what a request without view gets."),
            "extended": _full(f"{sentence} Its extra attributes are not listed; reading: no more than the schema."),
        },
    )


_LINE_ITEMS_SENTENCE = "'default' view will be rendered by default if the parameter is not provided."
_LINE_ITEMS = ViewTable(
    default="default",
    source=_LINE_ITEMS_SENTENCE,
    views={"default": _full(_LINE_ITEMS_SENTENCE), "ssov_source_lines": _id_only("ssov_source_lines")},
)
_COST_CODES = ViewTable(
    default="default",
    source="The enum's first value 'default'.",
    views={"default": _full("The list item schema."), "erp_compact": _id_only("erp_compact")},
)
_PROJECT_VENDOR_SENTENCE = (
    "The extended view is the same as the normal view but includes children_count, legal_name, parent, and "
    "bidding. The default view is normal."
)
_PROJECT_VENDOR = ViewTable(
    default="normal",
    source=_PROJECT_VENDOR_SENTENCE,
    views={
        "normal": View(
            source=_PROJECT_VENDOR_SENTENCE, without=frozenset({"children_count", "legal_name", "parent", "bidding"})
        ),
        "extended": _full(_PROJECT_VENDOR_SENTENCE),
    },
)
_PROJECT_VENDOR_V11_LIST = ViewTable(
    default="normal",
    source="No default stated (the sentence is cut); reading: 'normal', as on the v1.0 list.",
    views={
        "normal": View(
            source=_PROJECT_VENDOR_SENTENCE, without=frozenset({"children_count", "legal_name", "parent", "bidding"})
        ),
        "extended": _full(_PROJECT_VENDOR_SENTENCE),
        **{name: _id_only(name) for name in ("ids_only", "list", "name", "minimal")},
    },
)
_CHANGE_ORDER_SENTENCE = "the extended view includes change events data, while the default view does not."
_CHANGE_ORDERS = ViewTable(
    default="default",
    source=_CHANGE_ORDER_SENTENCE,
    views={
        "default": View(source=_CHANGE_ORDER_SENTENCE, without=frozenset({"change_events", "change_event"})),
        "extended": _full(_CHANGE_ORDER_SENTENCE),
    },
)
_V2_COMMITMENT_SENTENCE = (
    "The extended view includes vendor name and custom fields data, while the default view does not."
)
_V2_COMMITMENTS = ViewTable(
    default="default",
    source=_V2_COMMITMENT_SENTENCE,
    views={
        "default": View(source=_V2_COMMITMENT_SENTENCE, without=frozenset({"vendor_name", "custom_fields"})),
        "extended": _full(_V2_COMMITMENT_SENTENCE),
    },
)

_V2_CONTRACTS = "/rest/v2.0/companies/{company_id}/projects/{project_id}/commitment_contracts"
#: One table per operation with a ``view`` parameter (a test checks this covers every one in the extract).
VIEW_TABLES: dict[str, ViewTable] = {
    "GET /rest/v1.0/vendors": _VENDOR,
    "POST /rest/v1.0/vendors": _VENDOR,
    "GET /rest/v1.0/vendors/{id}": _VENDOR,
    "PATCH /rest/v1.0/vendors/{id}": _VENDOR,
    "GET /rest/v1.0/companies/{company_id}/vendors/inactive": _VENDOR,
    "PATCH /rest/v1.0/companies/{company_id}/vendors/inactive/{id}": _VENDOR,
    "GET /rest/v1.1/requisitions": _REQUISITION_V11,
    "POST /rest/v1.1/requisitions": _REQUISITION_V11,
    "GET /rest/v1.1/requisitions/{id}": _REQUISITION_V11,
    "PATCH /rest/v1.1/requisitions/{id}": _REQUISITION_V11,
    "GET /rest/v1.0/standard_cost_codes": _STANDARD_CODE,
    "POST /rest/v1.0/standard_cost_codes": _STANDARD_CODE,
    "PATCH /rest/v1.0/standard_cost_codes/sync": _STANDARD_CODE,
    "GET /rest/v1.0/standard_cost_codes/{id}": _STANDARD_CODE,
    "PATCH /rest/v1.0/standard_cost_codes/{id}": _STANDARD_CODE,
    "GET /rest/v1.1/projects": _PROJECTS_V11,
    "GET /rest/v1.0/projects/{id}": _PROJECT_SHOW,
    "GET /rest/v1.0/work_order_contracts": _commitment_list("work order"),
    "GET /rest/v1.0/purchase_order_contracts": _commitment_list("purchase order"),
    "GET /rest/v1.0/work_order_contracts/{work_order_contract_id}/line_items": _LINE_ITEMS,
    "GET /rest/v1.0/work_order_contracts/{work_order_contract_id}/line_items/{id}": _LINE_ITEMS,
    "GET /rest/v1.0/purchase_order_contracts/{purchase_order_contract_id}/line_items": _LINE_ITEMS,
    "GET /rest/v1.0/purchase_order_contracts/{purchase_order_contract_id}/line_items/{id}": _LINE_ITEMS,
    "GET /rest/v1.0/cost_codes": _COST_CODES,
    "GET /rest/v1.0/projects/{project_id}/vendors": _PROJECT_VENDOR,
    "GET /rest/v1.0/projects/{project_id}/vendors/{id}": _PROJECT_VENDOR,
    "GET /rest/v1.1/projects/{project_id}/vendors": _PROJECT_VENDOR_V11_LIST,
    "GET /rest/v1.1/projects/{project_id}/vendors/{id}": _PROJECT_VENDOR,
    "GET /rest/v1.0/projects/{project_id}/commitment_change_orders": _CHANGE_ORDERS,
    "GET /rest/v1.0/projects/{project_id}/commitment_change_orders/{id}": _CHANGE_ORDERS,
    f"GET {_V2_CONTRACTS}": _V2_COMMITMENTS,
    f"POST {_V2_CONTRACTS}": _V2_COMMITMENTS,
    f"GET {_V2_CONTRACTS}/{{commitment_contract_id}}": _V2_COMMITMENTS,
    f"PATCH {_V2_CONTRACTS}/{{commitment_contract_id}}": _V2_COMMITMENTS,
}


@dataclass(frozen=True)
class RequestedView:
    """The view one request gets (``view`` None: its operation has no view parameter)."""

    name: str | None = None
    view: View | None = None

    def apply(self, record: Any) -> Any:
        """``record`` cut to the requested view (unchanged where the operation has none)."""
        return record if self.view is None else self.view.apply(record)


def view_for(method: str, path: str, requested: str | None) -> RequestedView:
    """The view a ``method path?view=requested`` request gets."""
    operation = load_spec().find(method, path)
    table = VIEW_TABLES.get(operation.key) if operation else None
    if table is None:
        return RequestedView()
    name = requested if requested is not None and requested in table.views else table.default
    return RequestedView(name=name, view=table.views[name])


def requested_view(request: Request) -> RequestedView:
    """The view ``request`` gets."""
    return view_for(request.method, request.url.path, request.query_params.get("view"))


def apply_view(request: Request, record: Any) -> Any:
    """``record`` as the view ``request`` asked for returns it."""
    return requested_view(request).apply(record)
