"""Company-level routes: companies, me, project stages, projects and vendors.

``GET /projects`` without ``filters[by_status]`` lists active projects only (the OAS leaves the
default unstated; Procore's web lists default to Active, and a client that needs inactive projects
must then ask for them explicitly, which is the safe assumption).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from . import rules, views
from .paging import COMMON_MATCHERS, Matcher, apply_filters, apply_sort, match_text, paginate, parse_filters
from .routing import (
    SyncTarget,
    answer,
    answer_view,
    body_int,
    check_company,
    int_param,
    json_body,
    run_sync,
    state_of,
    wrapped,
)
from .state import ProcoreState, Record, by_id, not_found

router = APIRouter()


@router.get("/rest/v1.0/companies")
async def list_companies(request: Request) -> Response:
    """The one company the app is installed in."""
    state = state_of(request)
    return paginate(request, [state.company], lambda _: views.company(state))


@router.get("/rest/v1.0/me")
async def me(request: Request) -> Response:
    """The user (or DMSA service account) the token acts as."""
    return answer(state_of(request).me)


@router.get("/rest/v1.0/companies/{company_id}/project_stages")
async def list_project_stages(request: Request, company_id: int) -> Response:
    """The company's project stages (``Send to Xero`` among them)."""
    state = state_of(request)
    check_company(state, company_id)
    stages = sorted(state.project_stages.values(), key=lambda stage: stage["id"])
    return paginate(request, stages, lambda stage: {key: stage[key] for key in views.STAGE_FIELDS})


# -- projects ---------------------------------------------------------------------------------


def _by_status(record: Record, values: list[str]) -> bool:
    wanted = values[0]
    return wanted == "All" or record["active"] == (wanted == "Active")


def _by_stage(state: ProcoreState) -> Matcher:
    def matches(record: Record, values: list[str]) -> bool:
        stage = by_id(state.project_stages, record.get("project_stage_id"))
        wanted = {part.strip() for value in values for part in value.split(",")}
        return stage is not None and (str(stage["id"]) in wanted or stage["name"] in wanted)

    return matches


def _synced(record: Record, values: list[str]) -> bool:
    return values[0].lower() != "true" or bool(record.get("origin_id"))


async def _list_projects(request: Request, version: str) -> Response:
    state = state_of(request)
    check_company(state, int_param(request, "company_id"))
    filters = parse_filters(request)
    filters.setdefault("by_status", ["Active"])
    matchers = {
        **COMMON_MATCHERS,
        "by_status": _by_status,
        "name": lambda record, values: values[0].lower() in record["name"].lower(),
        "synced": _synced,
    }
    if version == "v1.1":
        matchers["project_number"] = match_text("project_number")
        matchers["by_stage"] = _by_stage(state)
    projects = apply_filters(state.projects.values(), filters, matchers)
    projects = apply_sort(projects, request, ("name",))
    return paginate(request, projects, lambda record: views.project_list_item(state, record))


@router.get("/rest/v1.0/projects")
async def list_projects_v10(request: Request) -> Response:
    """Company projects (v1.0 filters)."""
    return await _list_projects(request, "v1.0")


@router.get("/rest/v1.1/projects")
async def list_projects_v11(request: Request) -> Response:
    """Company projects (v1.1 adds ``project_number`` and ``by_stage`` filters)."""
    return await _list_projects(request, "v1.1")


def _project_sync_target(state: ProcoreState) -> SyncTarget:
    return SyncTarget(
        find_by_id=state.projects.get,
        find_by_origin=lambda origin: state.find_by_origin(state.projects, origin),
        create=lambda attrs: rules.create_project(state, attrs),
        update=lambda record, attrs: rules.update_project(state, record, attrs),
        render=lambda record: views.project_synced(state, record),
    )


@router.patch("/rest/v1.0/projects/sync")
async def sync_projects(request: Request) -> Response:
    """Create or update many projects by id/origin_id."""
    state = state_of(request)
    body = await json_body(request)
    check_company(state, body_int(body, request, "company_id"))
    return run_sync(body.get("updates"), _project_sync_target(state))


@router.get("/rest/v1.0/projects/{project_id}")
async def show_project(request: Request, project_id: int) -> Response:
    """One project."""
    state = state_of(request)
    check_company(state, int_param(request, "company_id"))
    return answer_view(request, views.project_show(state, state.project(project_id)))


@router.patch("/rest/v1.0/projects/{project_id}")
async def update_project(request: Request, project_id: int) -> Response:
    """Change a project (number, stage, origin_id…)."""
    state = state_of(request)
    body = await json_body(request)
    check_company(state, body_int(body, request, "company_id"))
    record = rules.update_project(state, state.project(project_id), wrapped(body, "project"))
    return answer(views.project_show(state, record))


# -- vendors ----------------------------------------------------------------------------------


def _search(record: Record, values: list[str]) -> bool:
    needle = values[0].lower()
    haystack = (record.get("name"), record.get("origin_code"), record.get("business_id"))
    return any(needle in str(value).lower() for value in haystack if value)


VENDOR_MATCHERS = {**COMMON_MATCHERS, "search": _search}


def _vendor(state: ProcoreState, vendor_id: int, *, active: bool | None = True) -> Record:
    record = state.vendors.get(vendor_id)
    if record is None or (active is not None and record["is_active"] != active):
        raise not_found("Vendor")
    return record


@router.get("/rest/v1.0/vendors")
async def list_vendors(request: Request) -> Response:
    """Active company vendors (inactive ones only appear under ``/vendors/inactive``)."""
    state = state_of(request)
    check_company(state, int_param(request, "company_id"))
    active = [record for record in state.vendors.values() if record["is_active"]]
    vendors = apply_sort(apply_filters(active, parse_filters(request), VENDOR_MATCHERS), request, ("name",))
    return paginate(request, vendors, views.vendor)


@router.post("/rest/v1.0/vendors")
async def create_vendor(request: Request) -> Response:
    """Create a company vendor (201); a taken origin_id is a 400 (the only error status the spec lists)."""
    state = state_of(request)
    body = await json_body(request)
    check_company(state, body_int(body, request, "company_id"))
    return answer_view(request, views.vendor(rules.create_vendor(state, wrapped(body, "vendor"))), status=201)


@router.patch("/rest/v1.0/vendors/sync")
async def sync_vendors(request: Request) -> Response:
    """Create or update many vendors by id/origin_id (inactive vendors included)."""
    state = state_of(request)
    body = await json_body(request)
    check_company(state, body_int(body, request, "company_id"))
    target = SyncTarget(
        find_by_id=state.vendors.get,
        find_by_origin=lambda origin: state.find_by_origin(state.vendors, origin),
        create=lambda attrs: rules.create_vendor(state, attrs),
        update=lambda record, attrs: rules.update_vendor(state, record, attrs),
        render=views.vendor,
    )
    return run_sync(body.get("updates"), target)


@router.get("/rest/v1.0/vendors/{vendor_id}")
async def show_vendor(request: Request, vendor_id: int) -> Response:
    """One active vendor."""
    state = state_of(request)
    check_company(state, int_param(request, "company_id"))
    return answer_view(request, views.vendor(_vendor(state, vendor_id)))


@router.patch("/rest/v1.0/vendors/{vendor_id}")
async def update_vendor(request: Request, vendor_id: int) -> Response:
    """Change a vendor (active or not)."""
    state = state_of(request)
    body = await json_body(request)
    check_company(state, body_int(body, request, "company_id"))
    record = rules.update_vendor(state, _vendor(state, vendor_id, active=None), wrapped(body, "vendor"))
    return answer_view(request, views.vendor(record))


@router.get("/rest/v1.0/companies/{company_id}/vendors/inactive")
async def list_inactive_vendors(request: Request, company_id: int) -> Response:
    """Inactive company vendors."""
    state = state_of(request)
    check_company(state, company_id)
    inactive = [record for record in state.vendors.values() if not record["is_active"]]
    return paginate(request, apply_sort(inactive, request, ("name",)), views.vendor)


@router.patch("/rest/v1.0/companies/{company_id}/vendors/inactive/{vendor_id}")
async def reactivate_vendor(request: Request, company_id: int, vendor_id: int) -> Response:
    """Reactivate an inactive vendor."""
    state = state_of(request)
    check_company(state, company_id)
    record = rules.update_vendor(state, _vendor(state, vendor_id, active=False), {"is_active": True})
    return answer_view(request, views.vendor(record))
