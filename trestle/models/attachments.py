"""Attachment metadata on both sides, and the spooled file an attachment travels in.

Procore lists a record's files as ``attachments: [{id, url, filename, content_type}]`` (the
``url`` is a pre-signed storage link: it is a credential while it lives, so it is never logged or
stored). Xero answers ``{"Attachments": [{AttachmentID, FileName, Url, MimeType, ContentLength,
IncludeOnline}]}``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import IO

from pydantic import Field

from trestle.models.procore import ProcoreAttachment
from trestle.models.xero import XeroModel

__all__ = ["ProcoreAttachment", "TooLarge", "XeroAttachment", "read_chunks", "spooled_file"]

SPOOL_IN_MEMORY_BYTES = 256 * 1024
"""Files up to this size stay in memory while they travel; larger ones go to a temporary file."""
CHUNK_BYTES = 64 * 1024
"""How much of a file is read or sent at a time."""


class XeroAttachment(XeroModel):
    """A file on a Xero document."""

    attachment_id: str = Field(alias="AttachmentID")
    file_name: str | None = None
    url: str | None = None
    mime_type: str | None = None
    content_length: int | None = None
    include_online: bool | None = None


class TooLarge(Exception):
    """A file is bigger than the target accepts (``size`` is how much was read before stopping)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the file is larger than {limit:,} bytes")
        self.size = size
        self.limit = limit


def spooled_file() -> tempfile.SpooledTemporaryFile[bytes]:
    """A binary file that stays in memory while small and moves to disk when it grows."""
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES, mode="w+b")


def read_chunks(file: IO[bytes]) -> Iterator[bytes]:
    """The file's bytes from the start, :data:`CHUNK_BYTES` at a time."""
    file.seek(0)
    while chunk := file.read(CHUNK_BYTES):
        yield chunk
