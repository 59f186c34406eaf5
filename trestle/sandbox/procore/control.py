"""Procore-only control routes: ``POST /_sandbox/simulate/delete`` (someone deleting in Procore's web app).

Procore's API deletes a subcontractor invoice only while it is the commitment's latest open one
(``DELETE /rest/v1.1/requisitions/{id}``), but a company admin can delete an approved one in the
web app. This route plays that person: ``{"resource": "requisitions", "id": N}`` removes the
record (and nothing else), so the API then answers 404 for it and its lists leave it out.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from .routing import state_of

router = APIRouter(include_in_schema=False)


class SimulateDelete(BaseModel):
    resource: Literal["requisitions", "commitments", "direct_costs", "contract_payments"]
    id: int


@router.post("/_sandbox/simulate/delete")
async def simulate_delete_route(body: SimulateDelete, request: Request) -> Response:
    """Remove one record as the web app would; 404 when there is no such record."""
    table = getattr(state_of(request), body.resource)
    if table.pop(body.id, None) is None:
        return JSONResponse({"errors": f"no {body.resource} record {body.id}"}, status_code=404)
    return JSONResponse({"deleted": body.id, "resource": body.resource})
