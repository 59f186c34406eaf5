"""Attachment files: where Procore's ``attachments[].url`` points, and files on direct costs.

Procore lists a record's attachments as ``{id, url, filename, content_type}`` ("present in all
views" of requisitions). The ``url`` of a real attachment is a pre-signed link to Procore's file
storage, fetched without the API token; the sandbox serves the bytes itself at
``/storage/attachments/{id}/{filename}`` (outside ``/rest/``, so no token, no rate limit and no
strict-mode check apply, as for the storage host). URLs are absolute, built from the address the
request came to (:data:`public_base`), like the links of the real API.

Files live in the state beside the records (:func:`files_of`), so record listings never carry them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request, Response

from .routing import state_of
from .state import ProcoreState, Record, not_found

STORAGE_PREFIX = "/storage/attachments"
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


def present(attachments: list[Record] | None) -> list[dict[str, Any]]:
    """Attachment entries as the API lists them, each with its absolute storage ``url``."""
    base = public_base.get()
    return [
        {**item, "url": f"{base}{STORAGE_PREFIX}/{item['id']}/{quote(str(item['filename']))}"}
        for item in attachments or []
    ]


@router.get(STORAGE_PREFIX + "/{attachment_id}/{filename}")
async def download(request: Request, attachment_id: int, filename: str) -> Response:
    found = files_of(state_of(request)).get(attachment_id)
    if found is None:
        raise not_found("Attachment")
    content, content_type = found
    return Response(content, media_type=content_type)


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
