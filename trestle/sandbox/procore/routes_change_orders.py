"""Commitment change order routes: the project's list and one change order, read-only.

``GET /rest/v1.0/projects/{project_id}/commitment_change_orders`` documents no ``page``/``per_page``,
so it answers every matching record in one array (no paging headers). Filters served: ``id``,
``contract_id``, ``vendor_id`` (the commitment's vendor), ``status`` and ``updated_at`` ranges;
``sort`` by ``id`` or ``created_at`` (``-`` for descending). The other documented filters
(``batch_id``, ``legacy_package_id``, ``signature_required``, ``executed``) describe multi-tier
and signature workflows the sandbox does not model: they match nothing rather than everything,
so a client relying on them sees an empty answer instead of a silently unfiltered one.

``POST /_sandbox/procore/change_orders/{id}/status`` (control plane, ``{"status": "approved"}``)
moves a change order as a reviewer would, for tests and demos.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from . import change_orders
from .paging import COMMON_MATCHERS, Matcher, apply_filters, apply_sort, match_ids, match_text, parse_filters
from .routing import answer, answer_view, json_body, state_of
from .state import ProcoreState, Record
from .view_tables import apply_view
from .views import line_item
from .wire import pick

router = APIRouter()

UNMODELLED_FILTERS = ("batch_id", "legacy_package_id", "signature_required", "executed")


def _matchers(state: ProcoreState) -> dict[str, Matcher]:
    def vendor(record: Record, values: list[str]) -> bool:
        commitment = state.commitments.get(record["contract_id"], {})
        return str(commitment.get("vendor_id")) in values

    def nothing(record: Record, values: list[str]) -> bool:
        return False

    return {
        "id": COMMON_MATCHERS["id"],
        "updated_at": COMMON_MATCHERS["updated_at"],
        "contract_id": match_ids("contract_id"),
        "status": match_text("status"),
        "vendor_id": vendor,
        **{name: nothing for name in UNMODELLED_FILTERS},
    }


def render(state: ProcoreState, record: Record, *, show: bool = False) -> Record:
    """A change order as listed, or as shown (``line_items`` shaped like the commitment's SOV lines)."""
    view = pick(record, change_orders.LIST_FIELDS)
    if show:
        commitment = state.commitments[record["contract_id"]]
        view["line_items"] = [line_item(state, commitment, line) for line in record["line_items"]]
    return view


@router.get("/rest/v1.0/projects/{project_id}/commitment_change_orders")
async def list_change_orders(request: Request, project_id: int) -> Response:
    """Every change order of the project's commitments that the filters keep, in one array."""
    state = state_of(request)
    state.project(project_id)
    records = apply_filters(change_orders.of_project(state, project_id), parse_filters(request), _matchers(state))
    ordered = apply_sort(records, request, ("id", "created_at"))
    return answer([apply_view(request, render(state, record)) for record in ordered])


@router.get("/rest/v1.0/projects/{project_id}/commitment_change_orders/{change_order_id}")
async def show_change_order(request: Request, project_id: int, change_order_id: int) -> Response:
    """One change order with its lines."""
    state = state_of(request)
    state.project(project_id)
    record = change_orders.find(state, project_id, change_order_id)
    return answer_view(request, render(state, record, show=True))


@router.post("/_sandbox/procore/change_orders/{change_order_id}/status", include_in_schema=False)
async def set_change_order_status(request: Request, change_order_id: int) -> Response:
    """Control plane: move a change order to another status (e.g. approve it after a first sync)."""
    state = state_of(request)
    body = await json_body(request)
    record = change_orders.set_status(state, change_order_id, str(body.get("status") or ""))
    return answer(render(state, record, show=True))
