"""Commitment routes: work order and purchase order contracts, their SOV lines, contract payments.

Both commitment resources share one implementation, registered once per URL segment. Contract
payments need both ``project_id`` and ``contract_id`` on every call (400 otherwise), as Procore's
do. A payment whose origin_id is set cannot be deleted (422), in line with the ERP lock on its
other fields.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from . import money, rules, views
from .paging import COMMON_MATCHERS, Filters, apply_filters, match_ids, match_text, paginate, parse_filters
from .routing import SyncTarget, answer, answer_view, body_int, int_param, json_body, run_sync, state_of, wrapped
from .state import COMMITMENT_RESOURCES, ProcoreState, Record, ValidationFailed, not_found

router = APIRouter()

COMMITMENT_MATCHERS = {**COMMON_MATCHERS, "status": match_text("status")}
LINE_ITEM_MATCHERS = {name: COMMON_MATCHERS[name] for name in ("id", "created_at", "updated_at")} | {
    "cost_code_id": match_ids("cost_code_id"),
    "line_item_type_id": match_ids("line_item_type_id"),
}


def _include_deleted(records: list[Record], filters: Filters) -> list[Record]:
    mode = (filters.get("include_deleted") or [""])[0]
    if mode == "with":
        return records
    if mode == "only":
        return [record for record in records if record.get("deleted_at") is not None]
    return [record for record in records if record.get("deleted_at") is None]


def _register_commitment_routes(resource: str, type_name: str) -> None:
    base = f"/rest/v1.0/{resource}"
    body_key = resource[:-1]  # work_order_contracts -> work_order_contract

    async def list_commitments(request: Request) -> Response:
        state = state_of(request)
        project_id = int_param(request, "project_id")
        assert project_id is not None
        state.project(project_id)
        filters = parse_filters(request)
        records = sorted(state.project_commitments(project_id, type_name), key=lambda record: record["id"])
        records = apply_filters(_include_deleted(records, filters), filters, COMMITMENT_MATCHERS)
        return paginate(request, records, lambda record: views.commitment(state, record))

    async def create_commitment(request: Request) -> Response:
        state = state_of(request)
        body = await json_body(request)
        project_id = body_int(body, request, "project_id")
        state.project(project_id)
        record = rules.create_commitment(state, project_id, type_name, wrapped(body, body_key))
        return answer(views.commitment(state, record, show=True), status=201)

    async def sync_commitments(request: Request) -> Response:
        state = state_of(request)
        body = await json_body(request)
        project_id = body_int(body, request, "project_id")
        state.project(project_id)

        def find(commitment_id: int) -> Record | None:
            record = state.commitments.get(commitment_id)
            matches = record and record["project_id"] == project_id and record["type"] == type_name
            return record if matches else None

        target = SyncTarget(
            find_by_id=find,
            find_by_origin=lambda origin: state.find_by_origin(state.commitments, origin, type=type_name),
            create=lambda attrs: rules.create_commitment(state, project_id, type_name, attrs),
            update=lambda record, attrs: rules.update_commitment(state, record, attrs),
            render=lambda record: views.commitment(state, record, show=True),
        )
        return run_sync(body.get("updates"), target)

    async def show_commitment(request: Request, commitment_id: int) -> Response:
        state = state_of(request)
        project_id = int_param(request, "project_id")
        assert project_id is not None
        record = state.commitment(commitment_id, project_id, type_name)
        return answer(views.commitment(state, record, show=True))

    async def update_commitment(request: Request, commitment_id: int) -> Response:
        state = state_of(request)
        body = await json_body(request)
        record = state.commitment(commitment_id, body_int(body, request, "project_id"), type_name)
        rules.update_commitment(state, record, wrapped(body, body_key))
        return answer(views.commitment(state, record, show=True))

    async def list_line_items(request: Request, commitment_id: int) -> Response:
        state = state_of(request)
        project_id = int_param(request, "project_id")
        assert project_id is not None
        record = state.commitment(commitment_id, project_id, type_name)
        lines = apply_filters(record["line_items"], parse_filters(request), LINE_ITEM_MATCHERS)
        return paginate(request, lines, lambda line: views.line_item(state, record, line, embedded=False))

    async def create_line_item(request: Request, commitment_id: int) -> Response:
        state = state_of(request)
        body = await json_body(request)
        record = state.commitment(commitment_id, body_int(body, request, "project_id"), type_name)
        line = rules.add_line_item(state, record, wrapped(body, "line_item"))
        return answer(views.line_item(state, record, line, embedded=False), status=201)

    def _line(record: Record, line_id: int) -> Record:
        line: Record
        for line in record["line_items"]:
            if line["id"] == line_id:
                return line
        raise not_found("Line item")

    async def show_line_item(request: Request, commitment_id: int, line_id: int) -> Response:
        state = state_of(request)
        project_id = int_param(request, "project_id")
        assert project_id is not None
        record = state.commitment(commitment_id, project_id, type_name)
        return answer_view(request, views.line_item(state, record, _line(record, line_id), embedded=False))

    async def update_line_item(request: Request, commitment_id: int, line_id: int) -> Response:
        state = state_of(request)
        body = await json_body(request)
        record = state.commitment(commitment_id, body_int(body, request, "project_id"), type_name)
        line = rules.update_line_item(state, record, _line(record, line_id), wrapped(body, "line_item"))
        return answer(views.line_item(state, record, line, embedded=False))

    router.add_api_route(base, list_commitments, methods=["GET"])
    router.add_api_route(base, create_commitment, methods=["POST"])
    router.add_api_route(f"{base}/sync", sync_commitments, methods=["PATCH"])
    router.add_api_route(f"{base}/{{commitment_id}}", show_commitment, methods=["GET"])
    router.add_api_route(f"{base}/{{commitment_id}}", update_commitment, methods=["PATCH"])
    router.add_api_route(f"{base}/{{commitment_id}}/line_items", list_line_items, methods=["GET"])
    router.add_api_route(f"{base}/{{commitment_id}}/line_items", create_line_item, methods=["POST"])
    router.add_api_route(f"{base}/{{commitment_id}}/line_items/{{line_id}}", show_line_item, methods=["GET"])
    router.add_api_route(f"{base}/{{commitment_id}}/line_items/{{line_id}}", update_line_item, methods=["PATCH"])


for _resource, _type_name in COMMITMENT_RESOURCES.items():
    _register_commitment_routes(_resource, _type_name)


@router.get("/rest/v1.0/commitments")
async def list_all_commitments(request: Request) -> Response:
    """Both commitment types of a project, told apart by ``type``."""
    state = state_of(request)
    project_id = int_param(request, "project_id")
    assert project_id is not None
    state.project(project_id)
    records = sorted(
        (record for record in state.project_commitments(project_id) if record.get("deleted_at") is None),
        key=lambda record: record["id"],
    )
    return paginate(request, records, lambda record: views.commitment_summary(state, record))


# -- contract payments ------------------------------------------------------------------------


def _payment_scope(state: ProcoreState, source: dict[str, Any], request: Request) -> Record:
    """The commitment a payments call is about (both ids required)."""
    project_id = body_int(source, request, "project_id")
    contract_id = body_int(source, request, "contract_id")
    return state.commitment(contract_id, project_id)


def _payment(state: ProcoreState, commitment: Record, payment_id: int) -> Record:
    record = state.contract_payments.get(payment_id)
    if record is None or record["contract_id"] != commitment["id"]:
        raise not_found("Contract payment")
    return record


@router.get("/rest/v1.0/contract_payments")
async def list_payments(request: Request) -> Response:
    """Payments issued on one commitment (no project-wide list, no filters)."""
    state = state_of(request)
    commitment = _payment_scope(state, {}, request)
    return paginate(request, money.commitment_payments(state, commitment["id"]), views.payment)


@router.post("/rest/v1.0/contract_payments")
async def create_payment(request: Request) -> Response:
    """Record a payment on a commitment (201)."""
    state = state_of(request)
    body = await json_body(request)
    commitment = _payment_scope(state, body, request)
    return answer(views.payment(money.create_payment(state, commitment, wrapped(body, "contract_payment"))), 201)


@router.get("/rest/v1.0/contract_payments/{payment_id}")
async def show_payment(request: Request, payment_id: int) -> Response:
    """One payment."""
    state = state_of(request)
    return answer(views.payment(_payment(state, _payment_scope(state, {}, request), payment_id)))


@router.patch("/rest/v1.0/contract_payments/{payment_id}")
async def update_payment(request: Request, payment_id: int) -> Response:
    """Change a payment (only origin fields once synced)."""
    state = state_of(request)
    body = await json_body(request)
    commitment = _payment_scope(state, body, request)
    record = _payment(state, commitment, payment_id)
    money.update_payment(state, commitment, record, body.get("contract_payment") or {})
    return answer(views.payment(record))


@router.delete("/rest/v1.0/contract_payments/{payment_id}")
async def delete_payment(request: Request, payment_id: int) -> Response:
    """Delete a payment: 200 with no body (the spec documents "200 OK" and no schema); 422 once synced."""
    state = state_of(request)
    commitment = _payment_scope(state, {}, request)
    record = _payment(state, commitment, payment_id)
    if record.get("origin_id"):
        raise ValidationFailed({"base": ["The payment is synced to an ERP (origin_id is set)"]})
    del state.contract_payments[payment_id]
    commitment["updated_at"] = state.now()
    return Response(status_code=200)
