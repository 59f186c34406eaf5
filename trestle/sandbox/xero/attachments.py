"""Invoice attachments: ``GET /Invoices/{InvoiceID}/Attachments``, ``GET …/Attachments/{AttachmentID}``
(raw bytes) and ``PUT|POST /Invoices/{InvoiceID}/Attachments/{FileName}`` (raw body).

The OpenAPI documents the envelope ``{"Attachments": [...]}`` of ``Attachment`` objects
(AttachmentID, FileName, Url, MimeType, ContentLength, IncludeOnline) and a byte-array body; it is
silent on limits and on what a second upload with the same FileName does. Readings taken (see
docs/FIDELITY.md): a file is at most :data:`MAX_FILE_BYTES` (10 MB read as 10,000,000 bytes, the
narrower reading of Xero's "10MB") and a document holds at most :data:`MAX_PER_DOCUMENT` (10)
attachments; both refusals are the operation's documented 400 ``ValidationException``. An upload
with a FileName the document already has replaces that file (same AttachmentID), so resending
never makes a second copy. Files are kept in the state, outside the invoice records, so invoice
listings never carry them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from trestle.sandbox.xero.routes_setup import state_of
from trestle.sandbox.xero.state import Record, XeroState, new_id, normalise_id
from trestle.sandbox.xero.wire import envelope, json_response, not_found
from trestle.sandbox.xero.writes import ACCOUNTING_PREFIX, validation_exception

MAX_FILE_BYTES = 10_000_000
MAX_PER_DOCUMENT = 10
ATTACHMENTS_KEY = "_attachments"  # on an invoice record: its attachments' metadata, in upload order

router = APIRouter(prefix=ACCOUNTING_PREFIX, include_in_schema=False)


def files_of(state: XeroState) -> dict[str, bytes]:
    """AttachmentID → content (kept beside the records; added lazily so older saved states load)."""
    files: dict[str, bytes] = state.__dict__.setdefault("attachment_files", {})
    return files


def attach(
    state: XeroState,
    invoice: Record,
    file_name: str,
    content: bytes,
    mime_type: str,
    *,
    seeding: bool = False,
    attachment_id: str | None = None,
) -> Record:
    """Store ``content`` as ``file_name`` on ``invoice`` (replacing a file of that name); its metadata.

    ``seeding`` keeps the invoice's seeded ``UpdatedDateUTC`` (the scenario's clock, not now).
    """
    attachments: list[Record] = invoice.setdefault(ATTACHMENTS_KEY, [])
    existing = next((item for item in attachments if item["FileName"] == file_name), None)
    if existing is None:
        existing = {"AttachmentID": attachment_id or new_id(), "FileName": file_name}
        attachments.append(existing)
    existing.update(
        {
            "Url": f"https://api.xero.com/api.xro/2.0/Invoices/{invoice['InvoiceID']}/Attachments/{file_name}",
            "MimeType": mime_type,
            "ContentLength": len(content),
            "IncludeOnline": False,
        }
    )
    files_of(state)[existing["AttachmentID"]] = content
    if not seeding:
        invoice["UpdatedDateUTC"] = state.stamp()
        state.changed()
    return existing


def _invoice(state: XeroState, invoice_id: str) -> Record | None:
    return state.invoices.get(normalise_id(invoice_id))


def _refusal(message: str) -> Response:
    return validation_exception([{"ValidationErrors": [{"Message": message}]}])


@router.get("/Invoices/{invoice_id}/Attachments")
async def list_attachments(request: Request, invoice_id: str) -> Response:
    invoice = _invoice(state_of(request), invoice_id)
    if invoice is None:
        return not_found()
    return json_response(envelope("Attachments", [dict(item) for item in invoice.get(ATTACHMENTS_KEY, [])]))


@router.get("/Invoices/{invoice_id}/Attachments/{key}")
async def get_attachment(request: Request, invoice_id: str, key: str) -> Response:
    """One file's bytes, by AttachmentID or by FileName (both documented), in its own content type."""
    state = state_of(request)
    invoice = _invoice(state, invoice_id)
    attachments = (invoice or {}).get(ATTACHMENTS_KEY, [])
    found = next((item for item in attachments if key == item["FileName"]), None) or next(
        (item for item in attachments if normalise_id(key) == item["AttachmentID"]), None
    )
    if found is None:
        return not_found()
    return Response(files_of(state)[found["AttachmentID"]], media_type=found["MimeType"])


async def _upload(request: Request, invoice_id: str, file_name: str) -> Response:
    state = state_of(request)
    invoice = _invoice(state, invoice_id)
    if invoice is None:
        return not_found()
    content = await request.body()
    known = {item["FileName"] for item in invoice.get(ATTACHMENTS_KEY, [])}
    if not content:
        return _refusal("The attachment is empty.")
    if len(content) > MAX_FILE_BYTES:
        return _refusal(f"The file is too large: attachments can be at most 10 MB ({MAX_FILE_BYTES:,} bytes).")
    if file_name not in known and len(known) >= MAX_PER_DOCUMENT:
        return _refusal(f"A document can have at most {MAX_PER_DOCUMENT} attachments.")
    mime_type = request.headers.get("content-type", "application/octet-stream").split(";")[0].strip()
    saved: dict[str, Any] = attach(state, invoice, file_name, content, mime_type)
    return json_response(envelope("Attachments", [dict(saved)]))


@router.put("/Invoices/{invoice_id}/Attachments/{file_name}")
async def create_attachment(request: Request, invoice_id: str, file_name: str) -> Response:
    return await _upload(request, invoice_id, file_name)


@router.post("/Invoices/{invoice_id}/Attachments/{file_name}")
async def update_attachment(request: Request, invoice_id: str, file_name: str) -> Response:
    return await _upload(request, invoice_id, file_name)
