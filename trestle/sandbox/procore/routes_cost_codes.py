"""Cost code routes: the company's standard list, project cost codes, tax codes and cost types."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from . import rules, views
from .paging import COMMON_MATCHERS, apply_filters, paginate, parse_filters
from .routing import SyncTarget, answer, body_int, check_company, int_param, json_body, run_sync, state_of
from .state import ProcoreState, Record, not_found
from .wire import pick

router = APIRouter()

STANDARD_LIST_FIELDS = ("id", "name", "is_erp_list", "available_to_use_on_new_projects")
STANDARD_CODE_FIELDS = (
    "id", "standard_cost_code_list_id", "parent_id", "code", "full_code", "name", "origin_id", "origin_data",
)  # fmt: skip
TAX_CODE_FIELDS = ("id", "code", "description", "rate1", "archived", "default_tax_code", "origin_id", "origin_data")
LINE_ITEM_TYPE_FIELDS = ("id", "name", "code", "base_type", "origin_id", "origin_data")


def _sorted(records: dict[int, Record]) -> list[Record]:
    return sorted(records.values(), key=lambda record: record["id"])


@router.get("/rest/v1.0/standard_cost_code_lists")
async def list_standard_cost_code_lists(request: Request) -> Response:
    """The company's standard cost code lists."""
    state = state_of(request)
    check_company(state, int_param(request, "company_id"))
    lists = _sorted(state.standard_cost_code_lists)
    return paginate(request, lists, lambda record: pick(record, STANDARD_LIST_FIELDS))


@router.get("/rest/v1.0/standard_cost_codes")
async def list_standard_cost_codes(request: Request) -> Response:
    """The codes on one standard list (``standard_cost_code_list_id`` required)."""
    state = state_of(request)
    check_company(state, int_param(request, "company_id"))
    list_id = int_param(request, "standard_cost_code_list_id")
    if list_id not in state.standard_cost_code_lists:
        raise not_found("Standard cost code list")
    codes = [code for code in _sorted(state.standard_cost_codes) if code["standard_cost_code_list_id"] == list_id]
    codes = apply_filters(codes, parse_filters(request), {"origin_id": COMMON_MATCHERS["origin_id"]})
    return paginate(request, codes, lambda record: pick(record, STANDARD_CODE_FIELDS))


def _project_codes(state: ProcoreState, project_id: int) -> list[Record]:
    state.project(project_id)
    return [
        code
        for code in _sorted(state.cost_codes)
        if code["project_id"] == project_id and code.get("deleted_at") is None
    ]


@router.get("/rest/v1.0/cost_codes")
async def list_cost_codes(request: Request) -> Response:
    """A project's cost codes (filters id, origin_id)."""
    state = state_of(request)
    project_id = int_param(request, "project_id")
    assert project_id is not None
    matchers = {name: COMMON_MATCHERS[name] for name in ("id", "origin_id")}
    codes = apply_filters(_project_codes(state, project_id), parse_filters(request), matchers)
    return paginate(request, codes, lambda record: views.cost_code(state, record))


@router.patch("/rest/v1.0/cost_codes/sync")
async def sync_cost_codes(request: Request) -> Response:
    """Create or update many project cost codes by id/origin_id."""
    state = state_of(request)
    body = await json_body(request)
    project_id = body_int(body, request, "project_id")
    state.project(project_id)

    def find(code_id: int) -> Record | None:
        record = state.cost_codes.get(code_id)
        return record if record and record["project_id"] == project_id else None

    target = SyncTarget(
        find_by_id=find,
        find_by_origin=lambda origin: state.find_by_origin(state.cost_codes, origin, project_id=project_id),
        create=lambda attrs: rules.create_cost_code(state, project_id, attrs),
        update=lambda record, attrs: rules.update_cost_code(state, record, attrs),
        render=lambda record: views.cost_code(state, record, show=True),
    )
    return run_sync(body.get("updates"), target)


@router.get("/rest/v1.0/cost_codes/{cost_code_id}")
async def show_cost_code(request: Request, cost_code_id: int) -> Response:
    """One project cost code."""
    state = state_of(request)
    project_id = int_param(request, "project_id")
    record = state.cost_codes.get(cost_code_id)
    if record is None or record["project_id"] != project_id:
        raise not_found("Cost code")
    return answer(views.cost_code(state, record, show=True))


@router.get("/rest/v1.0/tax_codes")
async def list_tax_codes(request: Request) -> Response:
    """The company's tax codes."""
    state = state_of(request)
    check_company(state, int_param(request, "company_id"))
    return paginate(request, _sorted(state.tax_codes), _tax_code)


def _tax_code(record: Record) -> Record:
    """A tax code; ``rate1`` is a JSON number (its schema says ``number``, unlike money amounts)."""
    rate = record.get("rate1")
    return {**pick(record, TAX_CODE_FIELDS), "rate1": None if rate is None else float(rate)}


@router.get("/rest/v1.0/line_item_types")
async def list_line_item_types(request: Request) -> Response:
    """Cost types (the company list; ``project_id`` is accepted as the OAS requires it)."""
    state = state_of(request)
    check_company(state, int_param(request, "company_id"))
    project_id = int_param(request, "project_id", required=False)
    if project_id is not None:
        state.project(project_id)
    types = apply_filters(
        _sorted(state.line_item_types), parse_filters(request), {"origin_id": COMMON_MATCHERS["origin_id"]}
    )
    return paginate(request, types, lambda record: pick(record, LINE_ITEM_TYPE_FIELDS))
