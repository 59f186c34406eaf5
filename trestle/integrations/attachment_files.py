"""What both attachment integrations share: the limits, file names, and the too-large rule.

Limits (docs/FIDELITY.md): Xero takes files of at most 10 MB (read as 10,000,000 bytes, the
narrower reading) and at most 10 attachments per document. Its official OpenAPI is silent on
both; Xero's attachments guide states them. Procore documents no limit; the same 10 MB cap is used
towards it so one rule holds both ways and nothing unbounded is ever downloaded.

A file over the limit is found while it is being downloaded (neither side says a file's size in
its listing before it is fetched, except Xero's ``ContentLength``), so the download stops at the
limit and the record gets ``<entity>.too_large``. Attachments never change (a new file is a new
attachment), so the next runs re-raise that issue from the open issue without downloading again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_FILE_BYTES = 10_000_000
MAX_ATTACHMENTS_PER_DOCUMENT = 10
TOO_LARGE_FIX = (
    "Reduce the file below 10 MB (compress or split it) and attach it again to the record; the next run "
    "sends the new file. The original stays where it is."
)
_UNSAFE = re.compile(r"[\\/\x00-\x1f]+")


def clean_file_name(name: str | None, fallback: str) -> str:
    """A file name usable as a URL path segment on either side: no slashes or control characters."""
    cleaned = _UNSAFE.sub("-", (name or "").strip()).strip(" .-")
    return cleaned or fallback


def unique_names(names: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Source id → a file name unique among ``(source id, name)`` (a repeated name gets ``-<id>``)."""
    pairs = list(names)
    counts: dict[str, int] = {}
    for _, name in pairs:
        counts[name.casefold()] = counts.get(name.casefold(), 0) + 1
    unique: dict[str, str] = {}
    for source_id, name in pairs:
        if counts[name.casefold()] > 1:
            stem, dot, suffix = name.rpartition(".")
            name = f"{stem}-{source_id}.{suffix}" if dot and stem else f"{name}-{source_id}"
        unique[source_id] = name
    return unique


def size_text(size: int) -> str:
    """A byte count in words people read: ``12.4 MB``."""
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size:,} bytes"


LABEL_FILE_CHARS = 200
"""A record's label keeps at most this much of a file name (labels are stored in 300 characters)."""


def label(file_name: str, bill_number: str) -> str:
    """How a file is named to people: ``drawings.pdf on bill INV-0042``."""
    shown = file_name if len(file_name) <= LABEL_FILE_CHARS else file_name[: LABEL_FILE_CHARS - 1] + "…"
    return f"{shown} on bill {bill_number[:60]}"
