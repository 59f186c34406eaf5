"""Helpers every route module shares: state access, parameters, bodies, answers, sync actions.

Sync actions (API_NOTES.md §8): ``PATCH …/sync`` with ``{"updates": [...]}`` answers HTTP 200 with
``{"entities": [...], "errors": [...]}``. Per item: neither ``id`` nor ``origin_id`` → create;
``id`` → update (unknown → ``{"id": ["Entity with this ID not found"]}``); ``origin_id`` only →
update the holder or create; both → find by id and set the origin_id. Failed items come back
as their input attributes plus ``"errors": {"field": ["msg"]}``. More than 1000 items is refused
as a whole with 400 (the request is malformed; nothing is written).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from .state import ApiError, ProcoreState, Record, ValidationFailed
from .view_tables import apply_view
from .wire import to_wire

MAX_SYNC_ITEMS = 1000


def state_of(request: Request) -> ProcoreState:
    """The live state of the app serving ``request``."""
    state: ProcoreState = request.app.state.procore
    return state


def int_param(request: Request, name: str, *, required: bool = True) -> int | None:
    """An integer query parameter; 400 when required and missing, or not an integer."""
    raw = request.query_params.get(name)
    if raw in (None, ""):
        if required:
            raise ApiError(400, f"Missing required parameter: {name}")
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise ApiError(400, f"Parameter {name} must be an integer") from exc


def body_int(body: dict[str, Any], request: Request, name: str) -> int:
    """An id given in the JSON body or, failing that, in the query string (400 if in neither)."""
    value = body.get(name, request.query_params.get(name))
    if value in (None, ""):
        raise ApiError(400, f"Missing required parameter: {name}")
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ApiError(400, f"Parameter {name} must be an integer") from exc


def check_company(state: ProcoreState, company_id: int | None) -> None:
    """Refuse a ``company_id`` parameter naming another company."""
    if company_id is not None and company_id != state.company_id:
        raise ApiError(403, "App is not connected to this company")


async def json_body(request: Request) -> dict[str, Any]:
    """The JSON object a write sent (400 for anything else)."""
    try:
        body = await request.json()
    except ValueError as exc:
        raise ApiError(400, "Request body must be a JSON object") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object")
    return body


def wrapped(body: dict[str, Any], key: str) -> dict[str, Any]:
    """The object under ``key`` (``{"vendor": {...}}``); 400 if absent."""
    inner = body.get(key)
    if not isinstance(inner, dict):
        raise ApiError(400, f"param is missing or the value is empty: {key}")
    return inner


def answer(data: Any, status: int = 200) -> JSONResponse:
    """A JSON response in Procore's wire format."""
    return JSONResponse(to_wire(data), status_code=status)


def answer_view(request: Request, data: Any, status: int = 200) -> JSONResponse:
    """A JSON response with the record cut to the view ``request`` asked for (``view_tables.py``)."""
    return answer(apply_view(request, data), status)


@dataclass
class SyncTarget:
    """How one entity type is found, created, updated and shown by a sync action."""

    find_by_id: Callable[[int], Record | None]
    find_by_origin: Callable[[str], Record | None]
    create: Callable[[dict[str, Any]], Record]
    update: Callable[[Record, dict[str, Any]], Record]
    render: Callable[[Record], Record]


def _sync_one(item: dict[str, Any], target: SyncTarget) -> Record:
    attrs = {key: value for key, value in item.items() if key != "id"}
    if item.get("id") is not None:
        try:
            record = target.find_by_id(int(item["id"]))
        except (TypeError, ValueError):
            record = None
        if record is None:
            raise ValidationFailed({"id": ["Entity with this ID not found"]})
        return target.update(record, attrs)
    origin_id = item.get("origin_id")
    if origin_id not in (None, ""):
        record = target.find_by_origin(str(origin_id))
        if record is not None:
            return target.update(record, attrs)
    return target.create(attrs)


def run_sync(updates: Any, target: SyncTarget) -> JSONResponse:
    """Apply a sync batch item by item and answer 200 with entities and errors."""
    if not isinstance(updates, list):
        raise ApiError(400, "param is missing or the value is empty: updates")
    if len(updates) > MAX_SYNC_ITEMS:
        raise ApiError(400, f"Too many updates: at most {MAX_SYNC_ITEMS} per request")
    entities: list[Record] = []
    errors: list[Record] = []
    for item in updates:
        if not isinstance(item, dict):
            errors.append({"errors": {"base": ["must be an object"]}})
            continue
        try:
            entities.append(target.render(_sync_one(item, target)))
        except ValidationFailed as exc:
            errors.append({**item, "errors": exc.errors})
        except ApiError as exc:
            errors.append({**item, "errors": {"base": [exc.message]}})
    return answer({"entities": entities, "errors": errors})
