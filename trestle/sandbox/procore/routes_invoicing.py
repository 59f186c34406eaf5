"""Invoicing routes: subcontractor invoices (requisitions) and direct costs.

Version drift is simulated: requisitions v1.0 carry no items (use ``/detail``) while v1.1 adds
``vendor_id`` and ``items``; direct costs are created with ``{"item": …}`` on v1.0 and
``{"direct_cost": {…, "line_items": […]}}`` on v1.1.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from . import money, routes_attachments, rules, views
from .paging import COMMON_MATCHERS, apply_filters, match_ids, match_text, paginate, parse_filters
from .routing import SyncTarget, answer, answer_view, body_int, int_param, json_body, run_sync, state_of, wrapped
from .state import ApiError, ProcoreState, Record, ValidationFailed, not_found

router = APIRouter()

REQUISITION_MATCHERS = {
    **COMMON_MATCHERS,
    "commitment_id": match_ids("commitment_id"),
    "period_id": match_ids("period_id"),
    "status": match_text("status"),
}
DIRECT_COST_MATCHERS = {
    **COMMON_MATCHERS,
    "invoice_number": match_text("invoice_number"),
}


def _project_id(request: Request) -> int:
    project_id = int_param(request, "project_id")
    assert project_id is not None
    return project_id


def _requisition(state: ProcoreState, requisition_id: int, project_id: int) -> Record:
    record = state.requisitions.get(requisition_id)
    if record is None or record["project_id"] != project_id:
        raise not_found("Requisition")
    return record


def _register_requisition_routes(version: str) -> None:
    base = f"/rest/{version}/requisitions"

    async def list_requisitions(request: Request) -> Response:
        state = state_of(request)
        project_id = _project_id(request)
        state.project(project_id)
        records = sorted(
            (record for record in state.requisitions.values() if record["project_id"] == project_id),
            key=lambda record: record["id"],
        )
        records = apply_filters(records, parse_filters(request), REQUISITION_MATCHERS)
        return paginate(request, records, lambda record: views.requisition(state, record, version=version))

    async def show_requisition(request: Request, requisition_id: int) -> Response:
        state = state_of(request)
        record = _requisition(state, requisition_id, _project_id(request))
        return answer_view(request, views.requisition(state, record, version=version))

    async def update_requisition(request: Request, requisition_id: int) -> Response:
        state = state_of(request)
        body = await json_body(request)
        record = _requisition(state, requisition_id, body_int(body, request, "project_id"))
        money.update_requisition(state, record, wrapped(body, "requisition"))
        return answer_view(request, views.requisition(state, record, version=version, updated=True))

    router.add_api_route(base, list_requisitions, methods=["GET"])
    router.add_api_route(f"{base}/{{requisition_id}}", show_requisition, methods=["GET"])
    router.add_api_route(f"{base}/{{requisition_id}}", update_requisition, methods=["PATCH"])


for _version in ("v1.0", "v1.1"):
    _register_requisition_routes(_version)


@router.get("/rest/v1.0/requisitions/{requisition_id}/detail")
async def requisition_detail(request: Request, requisition_id: int) -> Response:
    """Every contract item of one invoice."""
    state = state_of(request)
    record = _requisition(state, requisition_id, _project_id(request))
    return answer(views.requisition_detail(state, record))


# -- direct costs -----------------------------------------------------------------------------


def _direct_cost(state: ProcoreState, project_id: int, direct_cost_id: int) -> Record:
    state.project(project_id)
    record = state.direct_costs.get(direct_cost_id)
    if record is None or record["project_id"] != project_id or record.get("deleted_at") is not None:
        raise not_found("Direct cost")
    return record


def _register_direct_cost_reads(version: str) -> None:
    base = f"/rest/{version}/projects/{{project_id}}/direct_costs"

    async def list_direct_costs(request: Request, project_id: int) -> Response:
        state = state_of(request)
        state.project(project_id)
        records = sorted(
            (
                record
                for record in state.direct_costs.values()
                if record["project_id"] == project_id and record.get("deleted_at") is None
            ),
            key=lambda record: record["id"],
        )
        records = apply_filters(records, parse_filters(request), DIRECT_COST_MATCHERS)
        return paginate(request, records, lambda record: views.direct_cost(state, record))

    async def show_direct_cost(request: Request, project_id: int, direct_cost_id: int) -> Response:
        state = state_of(request)
        record = _direct_cost(state, project_id, direct_cost_id)
        return answer(views.direct_cost(state, record, show=True, version=version))

    async def update_direct_cost(request: Request, project_id: int, direct_cost_id: int) -> Response:
        state = state_of(request)
        record = _direct_cost(state, project_id, direct_cost_id)
        if routes_attachments.is_multipart(request):
            await routes_attachments.attach_to_direct_cost(request, state, record)
            return answer(views.direct_cost(state, record, show=True, version=version))
        body = await json_body(request)
        attrs = body.get("direct_cost", body.get("item"))
        if not isinstance(attrs, dict):
            raise ApiError(400, "param is missing or the value is empty: direct_cost")
        money.update_direct_cost(state, record, attrs)
        return answer(views.direct_cost(state, record, show=True, version=version))

    router.add_api_route(base, list_direct_costs, methods=["GET"])
    if version == "v1.0":  # the sync action lives on v1.0 only; register it before /{id}
        router.add_api_route(f"{base}/sync", sync_direct_costs, methods=["PATCH"])
    router.add_api_route(f"{base}/{{direct_cost_id}}", show_direct_cost, methods=["GET"])
    router.add_api_route(f"{base}/{{direct_cost_id}}", update_direct_cost, methods=["PATCH"])
    router.add_api_route(f"{base}/{{direct_cost_id}}", delete_direct_cost, methods=["DELETE"])


async def delete_direct_cost(request: Request, project_id: int, direct_cost_id: int) -> Response:
    """Delete a direct cost: 200 ``{"id": …}`` (its documented answer); 422 while it is synced to an ERP."""
    state = state_of(request)
    record = _direct_cost(state, project_id, direct_cost_id)
    money.delete_direct_cost(state, record)
    return answer({"id": record["id"]})


async def sync_direct_costs(request: Request, project_id: int) -> Response:
    """Create or update many direct costs by id/origin_id."""
    state = state_of(request)
    state.project(project_id)
    body = await json_body(request)

    def find(direct_cost_id: int) -> Record | None:
        record = state.direct_costs.get(direct_cost_id)
        live = record is not None and record["project_id"] == project_id and record.get("deleted_at") is None
        return record if live else None

    target = SyncTarget(
        find_by_id=find,
        find_by_origin=lambda origin: state.find_by_origin(state.direct_costs, origin),
        # the sync body has no line_items (OAS): lines go through v1.1 create or the line item routes
        create=lambda attrs: money.create_direct_cost(state, project_id, attrs, []),
        update=lambda record, attrs: money.update_direct_cost(state, record, attrs),
        render=lambda record: views.direct_cost(state, record, show=True, version="v1.0"),
    )
    return run_sync(body.get("updates"), target)


for _version in ("v1.0", "v1.1"):
    _register_direct_cost_reads(_version)


@router.post("/rest/v1.1/projects/{project_id}/direct_costs")
async def create_direct_cost_v11(request: Request, project_id: int) -> Response:
    """Create a direct cost with its lines: ``{"direct_cost": {…, "line_items": […]}}`` (201)."""
    state = state_of(request)
    state.project(project_id)
    attrs = wrapped(await json_body(request), "direct_cost")
    lines = attrs.get("line_items") or []
    if not isinstance(lines, list) or not all(isinstance(line, dict) for line in lines):
        raise ApiError(400, "line_items must be an array of objects")
    record = money.create_direct_cost(state, project_id, attrs, lines)
    return answer(views.direct_cost(state, record, show=True), status=201)


@router.post("/rest/v1.0/projects/{project_id}/direct_costs")
async def create_direct_cost_v10(request: Request, project_id: int) -> Response:
    """Create a direct cost header with the v1.0 body key: ``{"item": {…}}`` (201)."""
    state = state_of(request)
    state.project(project_id)
    record = money.create_direct_cost(state, project_id, wrapped(await json_body(request), "item"), [])
    return answer(views.direct_cost(state, record, show=True, version="v1.0"), status=201)


_LINES = "/rest/v1.0/projects/{project_id}/direct_costs/{direct_cost_id}/line_items"
_LINE_TYPE_REQUIRED = "either wbs_code_id or cost_code_id and line_item_type_id are required when creating a line item"


@router.patch("/rest/v1.0/projects/{project_id}/direct_costs/line_items/sync")
async def sync_direct_cost_lines(request: Request, project_id: int) -> Response:
    """Create or update many lines of the project's direct costs, matched by ``id``/``origin_id``.

    A new line names its ``direct_cost_id`` and, with a ``cost_code_id``, a ``line_item_type_id``
    (the operation's description); a line of a synced direct cost is refused as on the line routes.
    """
    state = state_of(request)
    state.project(project_id)
    body = await json_body(request)
    holders: dict[int, Record] = {}  # line id -> its direct cost, for the answer's holder

    def live_costs() -> list[Record]:
        return [
            record
            for record in state.direct_costs.values()
            if record["project_id"] == project_id and record.get("deleted_at") is None
        ]

    def find(predicate_key: str, value: object) -> Record | None:
        for record in live_costs():
            for line in record["line_items"]:
                if line.get(predicate_key) == value:
                    holders[line["id"]] = record
                    found: Record = line
                    return found
        return None

    def create(attrs: dict[str, object]) -> Record:
        holder_id = attrs.pop("direct_cost_id", None)
        if holder_id is None:
            raise ValidationFailed({"direct_cost_id": ["is required when creating a line item"]})
        if attrs.get("wbs_code_id") is None and (
            attrs.get("cost_code_id") is None or attrs.get("line_item_type_id") is None
        ):
            raise ValidationFailed({"base": [_LINE_TYPE_REQUIRED]})
        try:
            holder = _direct_cost(state, project_id, int(str(holder_id)))
        except (ValueError, ApiError) as exc:
            raise ValidationFailed({"direct_cost_id": ["Direct cost not found"]}) from exc
        line = rules.add_line_item(state, holder, attrs)
        holders[line["id"]] = holder
        return line

    def update(line: Record, attrs: dict[str, object]) -> Record:
        attrs.pop("direct_cost_id", None)
        return rules.update_line_item(state, holders[line["id"]], line, attrs)

    target = SyncTarget(
        find_by_id=lambda line_id: find("id", line_id),
        find_by_origin=lambda origin: find("origin_id", origin),
        create=create,
        update=update,
        render=lambda line: views.line_item(state, holders[line["id"]], line, embedded=False),
    )
    return run_sync(body.get("updates"), target)


def _direct_cost_line(record: Record, line_id: int) -> Record:
    line: Record
    for line in record["line_items"]:
        if line["id"] == line_id:
            return line
    raise not_found("Line item")


@router.get(_LINES)
async def list_direct_cost_lines(request: Request, project_id: int, direct_cost_id: int) -> Response:
    """The lines of one direct cost."""
    state = state_of(request)
    record = _direct_cost(state, project_id, direct_cost_id)
    return paginate(request, record["line_items"], lambda line: views.line_item(state, record, line, embedded=False))


@router.post(_LINES)
async def create_direct_cost_line(request: Request, project_id: int, direct_cost_id: int) -> Response:
    """Add a line to a direct cost (422 once the direct cost is synced)."""
    state = state_of(request)
    record = _direct_cost(state, project_id, direct_cost_id)
    line = rules.add_line_item(state, record, wrapped(await json_body(request), "line_item"))
    return answer(views.line_item(state, record, line, embedded=False), status=201)


@router.patch(_LINES + "/{line_id}")
async def update_direct_cost_line(request: Request, project_id: int, direct_cost_id: int, line_id: int) -> Response:
    """Change a direct cost line (422 once the direct cost is synced)."""
    state = state_of(request)
    record = _direct_cost(state, project_id, direct_cost_id)
    attrs = wrapped(await json_body(request), "line_item")
    line = rules.update_line_item(state, record, _direct_cost_line(record, line_id), attrs)
    return answer(views.line_item(state, record, line, embedded=False))


@router.delete(_LINES + "/{line_id}")
async def delete_direct_cost_line(request: Request, project_id: int, direct_cost_id: int, line_id: int) -> Response:
    """Remove a direct cost line: 200 with no body (its documented answer); 422 once the direct cost is synced."""
    state = state_of(request)
    record = _direct_cost(state, project_id, direct_cost_id)
    rules.remove_line_item(state, record, _direct_cost_line(record, line_id))
    return Response(status_code=200)
