"""Claim attachments: files on Procore subcontractor invoices → attachments of their Xero bills.

Picked up: the ``attachments`` (id, url, filename, content_type; in every view of
``GET /rest/v1.1/requisitions``) of the claims of linked projects that ``progress_claims`` wrote
as a bill (a ``progress_claim`` link to an ``ACCPAY`` document). Supplier credit notes are not
read (Trestle writes no attachment operation for them). Every run looks at each linked project's
claims (attachments can be added to a claim at any time, and Procore says nothing of whether
that moves its ``updated_at``) — in a nightly, the list progress claims read that night, so no call
of its own; a project none of whose claims became a bill is not looked at — then writes only files
not linked yet: one record per attachment, linked Procore attachment id ↔ Xero AttachmentID. With
the change feed on, only projects with ``Requisitions`` events are read, and the feed's weekly
sweep reads them all.

Written one file at a time: downloaded from its pre-signed ``url`` (no token sent) into a spooled
temporary file, stopping at 10 MB, then sent as the raw body of
``PUT /Invoices/{InvoiceID}/Attachments/{FileName}`` with the file's content type and an
``Idempotency-Key``. Memory stays bounded by the spool threshold whatever the file's size.
FileName is the Procore file name, made safe for a URL and unique on the bill (``-<id>`` when two
files of the claim share a name).

Exactly once: Xero keeps one file per FileName on a document, so a resend replaces rather than
duplicates, and the key makes a resend after a lost answer a replay. On top of that, recovery of a
write whose answer was lost lists the bill's attachments and links the one with the same FileName
and size before anything is sent again.

Skipped with an issue: a file over 10 MB (``claim_attachment.too_large``), a bill that already has
Xero's maximum of 10 attachments (``claim_attachment.too_many``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from trestle.clients.errors import FatalApiError
from trestle.integrations.attachment_files import (
    MAX_ATTACHMENTS_PER_DOCUMENT,
    MAX_FILE_BYTES,
    TOO_LARGE_FIX,
    clean_file_name,
    label,
    size_text,
    unique_names,
)
from trestle.integrations.lookups import PROGRESS_CLAIM, Lookups
from trestle.models.attachments import ProcoreAttachment, TooLarge, XeroAttachment, spooled_file
from trestle.models.intents import PendingIntent
from trestle.models.procore import Requisition
from trestle.tasks.declaration import FieldMap, IssueCode
from trestle.tasks.engine import Integration, Page, Record, WriteItem, WriteResult
from trestle.webhooks.feed import projects_to_read

CLAIM_ATTACHMENT = "claim_attachment"
TOO_LARGE, TOO_MANY = f"{CLAIM_ATTACHMENT}.too_large", f"{CLAIM_ATTACHMENT}.too_many"
BILL = "ACCPAY"
DEFAULT_MIME_TYPE = "application/octet-stream"
_PROJECT_URL = re.compile(r"/(\d+)/project/")


class ClaimAttachmentsIntegration(Integration):
    name = "claim_attachments"
    title = "Claim attachments"
    entity = CLAIM_ATTACHMENT
    source_system = "procore"
    target_system = "xero"
    write_batch_size = 1  # one file per request
    summary = "Files attached to Procore subcontractor invoices → attachments of the Xero bills written for them."
    depends_on = ("progress_claims",)
    per_project = True
    feed_resources = ("Requisitions",)  # change feed
    picked_up = (
        "The attachments of claims in linked projects that were written as a Xero bill (every run reads each "
        "project's claims; only files not sent yet are written)."
    )
    notes = (
        (
            "Written",
            "One file per request, streamed: downloaded from Procore's pre-signed link into a spooled temporary "
            "file, then sent as the raw body of `PUT /Invoices/{InvoiceID}/Attachments/{FileName}` with an "
            "`Idempotency-Key`. Files over 10 MB and bills already holding 10 attachments are issues (Xero's "
            "limits). A lost answer is finished by finding the file on the bill (same FileName and size) before "
            "anything is resent.",
        ),
    )
    mapping = (
        FieldMap("FileName", "the Procore file name (made URL-safe; `-<id>` added when two files share a name)"),
        FieldMap("body", "the file's bytes, streamed"),
        FieldMap("Content-Type", "the file's `content_type` (else `application/octet-stream`)"),
    )
    issues = (
        IssueCode(
            TOO_LARGE,
            "the file is larger than the 10 MB Xero accepts",
            TOO_LARGE_FIX,
        ),
        IssueCode(
            TOO_MANY,
            "the bill already has the 10 attachments Xero allows",
            "Remove attachments the bill does not need in Xero (or attach this file by hand to a related "
            "document); the next run sends the rest.",
        ),
        IssueCode(
            f"{CLAIM_ATTACHMENT}.write_rejected",
            "Xero refused the file (its message is shown)",
            "Correct what Xero's message names (often a file type Xero does not accept); the next run retries.",
        ),
        IssueCode(
            f"{CLAIM_ATTACHMENT}.target_already_linked",
            "another file is already linked to that Xero attachment",
            "Two Procore files point at the same Xero attachment; contact support.",
        ),
    )

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.lookups = Lookups.of(ctx)
        self.sources: dict[str, ProcoreAttachment] = {}  # this run's attachments (their urls) by id
        self.bill_files: dict[str, list[XeroAttachment]] = {}  # InvoiceID -> its attachments, read once
        self.new_on_bill: dict[str, set[str]] = {}  # InvoiceID -> file names this run will add
        self.known_too_large: set[str] = set()

    def prepare(self) -> None:
        issues = self.ctx.store.open_issues(integration=self.name, entity=self.entity) if not self.ctx.dry_run else []
        self.known_too_large = {issue.record_id for issue in issues if issue.code == TOO_LARGE}

    # ------------------------------------------------------------------ fetch
    def fetch(self, since: datetime | None) -> Iterator[Page]:
        """The files of the linked projects' claims that became bills; the claims come from the
        night's list of each project (read by progress claims, :meth:`Lookups.project_requisitions`),
        and a project none of whose claims became a bill is not read at all."""
        billed = self._projects_with_bills()
        scope = projects_to_read(self)  # every integrated project, or with the change feed the changed ones
        yield from self._read([project_id for project_id in scope.project_ids if project_id in billed])
        yield from scope.pages

    def _read(self, project_ids: Sequence[int]) -> Iterator[Page]:
        for project_id in project_ids:
            records = [
                record
                for requisition in self.lookups.project_requisitions(project_id)
                for record in self._records(requisition)
            ]
            yield Page(records)

    def _projects_with_bills(self) -> set[int]:
        """Projects with a claim written as a bill: its ``Url`` names the project (see progress claims)."""
        projects: set[int] = set()
        for link in self.lookups.links(PROGRESS_CLAIM):
            payload = link.last_payload or {}
            if payload.get("Type", BILL) != BILL:
                continue
            url = str(payload.get("Url") or "")
            project_id = _project_in_url(url)
            if project_id is None or self.ctx.links.procore_requisition(project_id, link.procore_id) != url:
                return set(self.lookups.integrated_project_ids())  # cannot tell: read them all
            projects.add(project_id)
        return projects

    def fetch_by_ids(self, ids: Sequence[str]) -> list[Record]:
        wanted = set(ids)
        pages = self._read(self.lookups.integrated_project_ids())
        return [record for page in pages for record in page.records if record.id in wanted]

    def _records(self, requisition: Requisition) -> list[Record]:
        """One record per file of a claim that has a bill."""
        bill_id = self.lookups.xero_document_for(PROGRESS_CLAIM, requisition.id)
        link = self.lookups.procore_record_for(PROGRESS_CLAIM, bill_id) if bill_id else None
        if not requisition.attachments or link is None or (link.last_payload or {}).get("Type", BILL) != BILL:
            return []
        names = unique_names(
            (str(file.id), clean_file_name(file.filename, f"attachment-{file.id}")) for file in requisition.attachments
        )
        number = (link.last_payload or {}).get("InvoiceNumber") or link.label or bill_id
        records = []
        for file in requisition.attachments:
            source_id = str(file.id)
            self.sources[source_id] = file
            data = {"file": file, "file_name": names[source_id], "bill_id": bill_id, "requisition": requisition}
            url = self.ctx.links.procore_requisition(requisition.project_id or 0, requisition.id)
            records.append(Record(source_id, label(names[source_id], str(number)), data, url=url))
        return records

    # --------------------------------------------------------------- validate
    def validate(self, record: Record) -> None:
        if self.lookups.xero_document_for(self.entity, record.id) is not None:
            return  # sent already: files never change
        if record.id in self.known_too_large:
            record.flag(
                "claim_attachment.too_large", "The file is larger than the 10 MB Xero accepts, so it was not sent."
            )
            return
        bill_id, file_name = record.data["bill_id"], record.data["file_name"]
        on_bill = {file.file_name for file in self._bill_files(bill_id)}
        adding = self.new_on_bill.setdefault(bill_id, set())
        if file_name not in on_bill and len(on_bill) + len(adding) >= MAX_ATTACHMENTS_PER_DOCUMENT:
            record.flag(
                "claim_attachment.too_many",
                f"The bill already has {len(on_bill) + len(adding)} attachments, the most Xero allows, so "
                f"'{file_name}' was not sent.",
                attachments=len(on_bill),
            )
            return
        if file_name not in on_bill:
            adding.add(file_name)

    def _bill_files(self, bill_id: str) -> list[XeroAttachment]:
        """The bill's files (read once); none for a bill a dry run would create (a placeholder id)."""
        if bill_id not in self.bill_files:
            self.bill_files[bill_id] = self.ctx.xero.invoice_attachments(bill_id) if _is_guid(bill_id) else []
        return self.bill_files[bill_id]

    # -------------------------------------------------------------------- map
    def map(self, record: Record) -> dict[str, Any]:
        file: ProcoreAttachment = record.data["file"]
        requisition: Requisition = record.data["requisition"]
        return {
            "InvoiceID": record.data["bill_id"],
            "FileName": record.data["file_name"],
            "MimeType": file.content_type or DEFAULT_MIME_TYPE,
            "project_id": requisition.project_id,
            "requisition_id": requisition.id,
        }

    # ------------------------------------------------------------------ write
    def write(self, items: list[WriteItem], batch_key: str) -> list[WriteResult]:
        return [self._send(item.source_id, item.payload, item.idempotency_key, look_first=False) for item in items]

    def recover(self, intents: list[PendingIntent]) -> list[WriteResult]:
        """Link the file the lost write did attach (same FileName and size) before sending anything again."""
        return [
            self._send(intent.source_id, intent.payload, intent.idempotency_key, look_first=True) for intent in intents
        ]

    def _send(self, source_id: str, payload: dict[str, Any], key: str, *, look_first: bool) -> WriteResult:
        source = self.sources.get(source_id) or self._reread(source_id, payload)
        if source is None:
            return WriteResult(source_id, ok=False, error="the file is no longer on the Procore invoice")
        bill_id, file_name = str(payload["InvoiceID"]), str(payload["FileName"])
        with spooled_file() as file:
            try:
                size = self.ctx.procore.download_attachment(source, file, limit=MAX_FILE_BYTES)
            except TooLarge as too_large:
                return WriteResult(
                    source_id,
                    ok=False,
                    code="claim_attachment.too_large",
                    error=f"The file is larger than the 10 MB Xero accepts (over {size_text(too_large.size)}), "
                    "so it was not sent.",
                    details={"limit_bytes": MAX_FILE_BYTES},
                )
            if look_first:
                found = self._already_there(bill_id, file_name, size)
                if found is not None:
                    return WriteResult(source_id, ok=True, target_id=found.attachment_id)
            try:
                sent = self.ctx.xero.upload_invoice_attachment(
                    bill_id, file_name, file, size, str(payload["MimeType"]), idempotency_key=key
                )
            except FatalApiError as exc:
                return WriteResult(source_id, ok=False, error=exc.message)
        return WriteResult(source_id, ok=True, target_id=sent.attachment_id)

    def _already_there(self, bill_id: str, file_name: str, size: int) -> XeroAttachment | None:
        return next(
            (
                file
                for file in self.ctx.xero.invoice_attachments(bill_id)
                if file.file_name == file_name and file.content_length == size
            ),
            None,
        )

    def _reread(self, source_id: str, payload: dict[str, Any]) -> ProcoreAttachment | None:
        """The attachment (with a fresh url) from its claim, for recovery before this run fetched."""
        requisition = self.ctx.procore.requisition(int(payload["project_id"]), int(payload["requisition_id"]))
        return next((file for file in requisition.attachments or [] if str(file.id) == source_id), None)

    def source_url(self, record: Record) -> str | None:
        return record.url

    def target_url(self, target_id: str) -> str | None:
        link = self.lookups.procore_record_for(self.entity, target_id)
        bill_id = (link.last_payload or {}).get("InvoiceID") if link else None
        return self.ctx.links.xero_bill(str(bill_id)) if bill_id else None


def _project_in_url(url: str) -> int | None:
    """The project id in a Procore requisition page link (``/<project id>/project/commitments/...``)."""
    match = _PROJECT_URL.search(url)
    return int(match.group(1)) if match else None


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
