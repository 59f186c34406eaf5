"""Attachment files: where Procore's ``attachments[].url`` points, and files on direct costs.

Procore lists a record's attachments as ``{id, url, filename, content_type}`` ("present in all
views" of requisitions). The ``url`` of a real attachment is a pre-signed link to Procore's file
storage, fetched without the API token; the sandbox serves the bytes itself at
``/storage/attachments/{id}/{filename}`` (outside ``/rest/``, so no token, no rate limit and no
strict-mode check apply, as for the storage host). URLs are absolute, built from the address the
request came to (:data:`public_base`), like the links of the real API.

Files live in the state beside the records (:func:`files_of`), so record listings never carry them.

Direct costs take files on ``PATCH …/direct_costs/{id}`` sent as ``multipart/form-data`` with one
``attachments[]`` part per file (the operation's body documents a top-level ``attachments`` array
"uploaded as multipart/form-data … together with ``attachments[]``"). Readings taken (docs/FIDELITY.md):
only ``attachments[]`` parts are accepted in a form (anything else is refused as undocumented), and a
direct cost whose ``origin_id`` is set is locked for files too, as for every other field (Procore's
notes name attachments as still changeable on synced payments only).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from email import message_from_bytes
from email.message import Message
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request, Response

from .routing import state_of
from .state import ApiError, ProcoreState, Record, ValidationFailed, not_found

STORAGE_PREFIX = "/storage/attachments"
FILE_FIELD = "attachments[]"
public_base: ContextVar[str] = ContextVar("procore_public_base", default="http://127.0.0.1")

router = APIRouter(include_in_schema=False)


def files_of(state: ProcoreState) -> dict[int, tuple[bytes, str]]:
    """Attachment id → (content, content type); added lazily so older saved states still load."""
    files: dict[int, tuple[bytes, str]] = state.__dict__.setdefault("attachment_files", {})
    return files


def add_file(state: ProcoreState, filename: str, content: bytes, content_type: str) -> Record:
    """Store a file and return its attachment entry (``id``, ``filename``, ``content_type``)."""
    attachment_id = state.new_id()
    files_of(state)[attachment_id] = (content, content_type)
    return {"id": attachment_id, "filename": filename, "content_type": content_type}


def present(attachments: list[Record] | None, *, content_type: bool = True) -> list[dict[str, Any]]:
    """Attachment entries as the API lists them, each with its absolute storage ``url``.

    Requisitions document ``content_type`` on each entry, direct costs do not (``content_type=False``).
    """
    base = public_base.get()
    return [
        {
            "id": item["id"],
            "url": f"{base}{STORAGE_PREFIX}/{item['id']}/{quote(str(item['filename']))}",
            "filename": item["filename"],
            **({"content_type": item["content_type"]} if content_type else {}),
        }
        for item in attachments or []
    ]


@router.get(STORAGE_PREFIX + "/{attachment_id}/{filename}")
async def download(request: Request, attachment_id: int, filename: str) -> Response:
    found = files_of(state_of(request)).get(attachment_id)
    if found is None:
        raise not_found("Attachment")
    content, content_type = found
    return Response(content, media_type=content_type)


def is_multipart(request: Request) -> bool:
    """Whether a write is a form with files (rather than JSON)."""
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


def _parts(content_type: str, body: bytes) -> list[Message]:
    """The parts of a multipart body (the standard library's MIME parser; no form library needed)."""
    message = message_from_bytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    payload = message.get_payload() if message.is_multipart() else None
    if not isinstance(payload, list):
        raise ApiError(400, "the multipart body could not be read")
    return [part for part in payload if isinstance(part, Message)]


async def attach_to_direct_cost(request: Request, state: ProcoreState, record: Record) -> None:
    """Add the ``attachments[]`` files of a multipart PATCH to a direct cost."""
    parts = _parts(request.headers["content-type"], await request.body())
    names = {part.get_param("name", header="content-disposition") for part in parts}
    if names - {FILE_FIELD}:
        raise ApiError(
            400, f"strict mode: only {FILE_FIELD} parts are accepted in a form, not {sorted(map(str, names))}"
        )
    if record.get("origin_id"):
        raise ValidationFailed({"base": ["The direct cost is synced to an ERP (origin_id is set)"]})
    for part in parts:
        content = part.get_payload(decode=True)
        filename = part.get_filename()
        if not isinstance(content, bytes) or not filename:
            raise ValidationFailed({"attachments": ["each attachment must be a file with a name"]})
        entry = add_file(state, filename, content, part.get_content_type())
        record.setdefault("attachments", []).append(entry)
    record["updated_at"] = state.now()


def install(app: FastAPI) -> None:
    """Serve the storage route and remember each request's address for the ``url``s."""

    @app.middleware("http")
    async def remember_address(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        token = public_base.set(str(request.base_url).rstrip("/"))
        try:
            return await call_next(request)
        finally:
            public_base.reset(token)

    app.include_router(router)
