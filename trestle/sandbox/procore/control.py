"""Procore-only control routes: someone deleting or editing in Procore's web app.

Procore's API deletes a subcontractor invoice only while it is the commitment's latest open one
(``DELETE /rest/v1.1/requisitions/{id}``), but a company admin can delete an approved one in the
web app. This route plays that person: ``{"resource": "requisitions", "id": N}`` removes the
record (and nothing else), so the API then answers 404 for it and its lists leave it out.

``POST /_sandbox/attachments`` with ``{"documents": N}`` puts the seeded claim files on N more
claims (:func:`trestle.sandbox.attachments_seed.seed_claim_attachments`).

``POST /_sandbox/simulate/edit`` plays a person editing text in the web app:
``{"resource": "commitments", "id": N, "changes": {"title": "…"}}`` sets existing text fields
(never ids, money, statuses or lines) and stamps ``updated_at``, as a save in the web app does.
Its webhook events carry no ``source_application_id``: no application made the change.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ..attachments_seed import seed_claim_attachments
from .routing import state_of

router = APIRouter(include_in_schema=False)


class SimulateDelete(BaseModel):
    resource: Literal["requisitions", "commitments", "direct_costs", "contract_payments"]
    id: int


class SimulateEdit(BaseModel):
    resource: Literal["projects", "vendors", "commitments", "requisitions", "direct_costs"]
    id: int
    changes: dict[str, str]


EDITABLE_TEXT = frozenset({"title", "description", "name", "number", "invoice_number", "notes", "address"})


@router.post("/_sandbox/simulate/edit")
async def simulate_edit_route(body: SimulateEdit, request: Request) -> Response:
    """Change text fields of one record as the web app would; 404 / 400 for no record / another field."""
    state = state_of(request)
    record = getattr(state, body.resource).get(body.id)
    if record is None or record.get("deleted_at") is not None:
        return JSONResponse({"errors": f"no {body.resource} record {body.id}"}, status_code=404)
    refused = sorted(name for name in body.changes if name not in EDITABLE_TEXT or name not in record)
    if refused:
        return JSONResponse({"errors": f"not editable here: {', '.join(refused)}"}, status_code=400)
    record.update(body.changes)
    record["updated_at"] = state.now()
    return JSONResponse({"edited": body.id, "resource": body.resource})


@router.post("/_sandbox/simulate/delete")
async def simulate_delete_route(body: SimulateDelete, request: Request) -> Response:
    """Remove one record as the web app would; 404 when there is no such record."""
    table = getattr(state_of(request), body.resource)
    if table.pop(body.id, None) is None:
        return JSONResponse({"errors": f"no {body.resource} record {body.id}"}, status_code=404)
    return JSONResponse({"deleted": body.id, "resource": body.resource})


class SeedAttachments(BaseModel):
    documents: int = Field(ge=0, le=100)
    """More claims to give the seeded files (the next eligible ones)."""


@router.post("/_sandbox/attachments")
async def seed_attachments_route(body: SeedAttachments, request: Request) -> Response:
    """Put files on more seeded claims (the chaos suite's attachment writes); how many got them."""
    return JSONResponse({"documents": seed_claim_attachments(state_of(request), body.documents)})
