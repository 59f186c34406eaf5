"""Bill attachments: files on Xero bills → attachments of the Procore direct costs they became.

Picked up: bills that ``direct_invoices`` wrote as direct costs (``direct_cost`` links) and that Xero
marks ``HasAttachments``; each such bill's files are listed (``GET /Invoices/{InvoiceID}/Attachments``).
A bill may have become several direct costs (one per project, when bills are split): every file
goes to each of them, so one record is one file on one direct cost, with source id
``<AttachmentID>@<direct cost id>`` (Procore ids are unique across projects; the id fits the link
store's 64 characters) and the Procore attachment id as its target. A direct
cost rebuilt under a new id is a new target, so its files are sent again. Every run reads the
bills Xero marks ``HasAttachments`` (``where``, 1,000 a page: not the linked bills by id, which
cost a call per 50 every night) and lists the files of the linked ones among them.

Written one file at a time: the file is downloaded (``GET …/Attachments/{AttachmentID}``) into a
spooled temporary file and sent to ``PATCH /rest/v1.1/projects/{project_id}/direct_costs/{id}`` as
``multipart/form-data`` with one ``attachments[]`` part (streamed by httpx). Direct costs from Xero
are locked by their ``origin_id``, and nothing in Procore's documents says files may still be
added to a locked direct cost (its notes say so for payments only), so the lock is lifted
(sync ``origin_id: null``), the file added, and the same ``origin_id`` set again.

Exactly once: the PATCH has no idempotency key, so before any file is sent the direct cost is read
and a file of the same name already on it is linked instead (this is also how a lost answer is
finished); that read also puts back an ``origin_id`` a crash left cleared. Files over 10 MB (by
Xero's ``ContentLength``, before any download) are ``bill_attachment.too_large``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from trestle.clients.errors import FatalApiError
from trestle.integrations.attachment_files import MAX_FILE_BYTES, TOO_LARGE_FIX, clean_file_name, label, size_text
from trestle.integrations.direct_cost_writer import parse_target, part_key
from trestle.integrations.lookups import DIRECT_COST, Lookups
from trestle.models.attachments import TooLarge, XeroAttachment, spooled_file
from trestle.models.intents import PendingIntent
from trestle.models.links import LinkRow
from trestle.models.procore import DirectCost
from trestle.tasks.declaration import FieldMap, IssueCode
from trestle.tasks.engine import Integration, Page, Record, WriteItem, WriteResult

BILL_ATTACHMENT = "bill_attachment"
TOO_LARGE = f"{BILL_ATTACHMENT}.too_large"
DEFAULT_MIME_TYPE = "application/octet-stream"
BILLS_PER_PAGE = 50
#: The bills whose files matter, in pages of 1,000 (``where`` takes any element, Xero's OpenAPI says):
#: asking for the linked bills by id instead costs a call per 50 (the gateway's URL cap), every night.
WITH_FILES = 'Type=="ACCPAY" AND HasAttachments==true'


def invoice_id_of(link: LinkRow) -> str:
    """The InvoiceID behind a direct cost link (its Xero side, less any per-project suffix)."""
    return link.xero_id.split(":", 1)[0]


def direct_costs_of(link: LinkRow, *, dry_run: bool) -> list[tuple[int, int, str]]:
    """``(project id, direct cost id, origin_id)`` of every part a direct cost link points at.

    Links name ``"<project id>:<direct cost id>"`` per part, comma-joined (a bill split by project
    has several; each part's ``origin_id`` is :func:`part_key`, a one-project bill's the InvoiceID).
    A removed bill's link names none. On a dry run a direct cost the run would create has a
    negative placeholder id and its project in the planned payload.
    """
    parts = parse_target(link.procore_id)
    invoice_id = invoice_id_of(link)
    if len(parts) > 1:
        return [(project, cost, part_key(invoice_id, project)) for project, cost in sorted(parts.items())]
    if parts:
        [(project, cost)] = parts.items()
        return [(project, cost, link.xero_id)]
    planned_project = (link.last_payload or {}).get("project_id")
    if dry_run and link.procore_id.lstrip("-").isdigit() and planned_project is not None:
        return [(int(planned_project), int(link.procore_id), link.xero_id)]
    return []


class BillAttachmentsIntegration(Integration):
    name = "bill_attachments"
    title = "Bill attachments"
    entity = BILL_ATTACHMENT
    source_system = "xero"
    target_system = "procore"
    write_batch_size = 1  # one file per request
    summary = "Files attached to Xero bills → attachments of the Procore direct costs they became."
    depends_on = ("direct_invoices",)
    per_project = True
    picked_up = (
        "The attachments of bills that were written as Procore direct costs and that Xero marks `HasAttachments` "
        "(every run reads the linked bills; only files not sent yet are written). A bill split into several "
        "direct costs sends each file to every one of them."
    )
    notes = (
        (
            "Written",
            "One file per request, streamed: downloaded from Xero into a spooled temporary file, then sent as the "
            "`attachments[]` part of a multipart `PATCH` of the direct cost. The direct cost's `origin_id` lock is "
            "lifted for the upload and set again. The upload has no idempotency key: the direct cost is read first "
            "and a file of the same name on it is linked, never sent twice.",
        ),
    )
    mapping = (
        FieldMap("attachments[] (file name)", "FileName (made URL-safe)"),
        FieldMap("attachments[] (content)", "the file's bytes, streamed"),
        FieldMap("attachments[] (content type)", "MimeType (else `application/octet-stream`)"),
    )
    issues = (
        IssueCode(TOO_LARGE, "the file is larger than 10 MB", TOO_LARGE_FIX),
        IssueCode(
            f"{BILL_ATTACHMENT}.write_rejected",
            "Procore refused the file (its message is shown)",
            "Correct what Procore's message names; the next run retries.",
        ),
        IssueCode(
            f"{BILL_ATTACHMENT}.target_already_linked",
            "another file is already linked to that Procore attachment",
            "Two Xero files point at the same Procore attachment; contact support.",
        ),
    )

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.lookups = Lookups.of(ctx)
        self.direct_costs: dict[str, DirectCost] = {}  # "<project>:<id>" -> as read this run

    # ------------------------------------------------------------------ fetch
    def fetch(self, since: datetime | None) -> Iterator[Page]:
        targets: dict[str, list[tuple[int, int, str]]] = {}
        projects = set(self.lookups.integrated_project_ids())
        for link in self.lookups.links(DIRECT_COST):
            for where in direct_costs_of(link, dry_run=self.ctx.dry_run):
                if where[0] in projects:
                    targets.setdefault(invoice_id_of(link), []).append(where)
        if not targets:
            return
        with_files = [
            bill
            for bill in self.ctx.xero.iter_invoices(where=WITH_FILES)
            if bill.invoice_id in targets and bill.has_attachments
        ]
        with_files.sort(key=lambda bill: bill.invoice_id or "")
        for start in range(0, len(with_files), BILLS_PER_PAGE):
            records = [
                self._record(bill.invoice_id or "", bill.invoice_number, file, where)
                for bill in with_files[start : start + BILLS_PER_PAGE]
                for file in self.ctx.xero.invoice_attachments(bill.invoice_id or "")
                for where in targets[bill.invoice_id or ""]
            ]
            yield Page(records)

    def fetch_by_ids(self, ids: Sequence[str]) -> list[Record]:
        wanted = set(ids)
        return [record for page in self.fetch(None) for record in page.records if record.id in wanted]

    def _record(self, bill_id: str, number: str | None, file: XeroAttachment, where: tuple[int, int, str]) -> Record:
        project_id, direct_cost_id, origin_id = where
        file_name = clean_file_name(file.file_name, f"attachment-{file.attachment_id}")
        data = {"bill_id": bill_id, "file": file, "file_name": file_name, "origin_id": origin_id}
        data |= {"project_id": project_id, "direct_cost_id": direct_cost_id}
        return Record(
            f"{file.attachment_id}@{direct_cost_id}",
            label(file_name, number or bill_id),
            data,
            url=self.ctx.links.xero_bill(bill_id),
        )

    # --------------------------------------------------------------- validate
    def validate(self, record: Record) -> None:
        file: XeroAttachment = record.data["file"]
        if (file.content_length or 0) > MAX_FILE_BYTES:
            record.flag(
                "bill_attachment.too_large",
                f"'{record.data['file_name']}' is {size_text(file.content_length or 0)}, more than 10 MB, so it was "
                "not sent.",
                size=file.content_length,
            )

    # -------------------------------------------------------------------- map
    def map(self, record: Record) -> dict[str, Any]:
        file: XeroAttachment = record.data["file"]
        return {
            "project_id": record.data["project_id"],
            "direct_cost_id": record.data["direct_cost_id"],
            "origin_id": record.data["origin_id"],
            "InvoiceID": record.data["bill_id"],
            "AttachmentID": file.attachment_id,
            "file_name": record.data["file_name"],
            "MimeType": file.mime_type or DEFAULT_MIME_TYPE,
        }

    # ------------------------------------------------------------------ write
    def write(self, items: list[WriteItem], batch_key: str) -> list[WriteResult]:
        return [self._send(item.source_id, item.payload) for item in items]

    def recover(self, intents: list[PendingIntent]) -> list[WriteResult]:
        """The same as a write: it always looks at the direct cost before sending anything."""
        return [self._send(intent.source_id, intent.payload) for intent in intents]

    def _send(self, source_id: str, payload: dict[str, Any]) -> WriteResult:
        project_id, direct_cost_id = int(payload["project_id"]), int(payload["direct_cost_id"])
        file_name = str(payload["file_name"])
        try:
            current = self.ctx.procore.direct_cost(project_id, direct_cost_id)
            origin = current.origin_id or str(payload["origin_id"])
            there = _named(current, file_name)
            if there is not None:
                if current.origin_id is None:  # an earlier attempt stopped after the upload: lock it again
                    self._lock(project_id, direct_cost_id, origin)
                return WriteResult(source_id, ok=True, target_id=str(there))
            with spooled_file() as file:
                source = XeroAttachment.model_validate(
                    {"AttachmentID": payload["AttachmentID"], "MimeType": payload["MimeType"]}
                )
                self.ctx.xero.download_invoice_attachment(str(payload["InvoiceID"]), source, file, limit=MAX_FILE_BYTES)
                if current.origin_id is not None:
                    self._lock(project_id, direct_cost_id, None)
                try:
                    updated = self.ctx.procore.attach_to_direct_cost(
                        project_id, direct_cost_id, file_name, file, str(payload["MimeType"])
                    )
                except FatalApiError:
                    self._lock(project_id, direct_cost_id, origin)  # refused: nothing was added, lock it again
                    raise
            self._lock(project_id, direct_cost_id, origin)
        except TooLarge as too_large:
            return WriteResult(
                source_id,
                ok=False,
                code="bill_attachment.too_large",
                error=f"The file is more than 10 MB (over {size_text(too_large.size)}), so it was not sent.",
            )
        except FatalApiError as exc:
            return WriteResult(source_id, ok=False, error=exc.message)
        except _LockRefused as refused:
            return WriteResult(source_id, ok=False, error=str(refused))
        added = _named(updated, file_name, exclude={a.id for a in current.attachments or []})
        if added is None:
            return WriteResult(source_id, ok=False, error="Procore did not list the file after the upload")
        return WriteResult(source_id, ok=True, target_id=str(added))

    def _lock(self, project_id: int, direct_cost_id: int, origin_id: str | None) -> None:
        """Set (or, with None, clear) a direct cost's ``origin_id``; a refusal is the write's failure."""
        result = self.ctx.procore.sync_direct_costs(project_id, [{"id": direct_cost_id, "origin_id": origin_id}])
        if result.errors:
            messages = "; ".join(message for error in result.errors for message in error.messages)
            raise _LockRefused(messages or "Procore refused to change the direct cost's origin_id")

    def source_url(self, record: Record) -> str | None:
        return record.url

    def target_url(self, target_id: str) -> str | None:
        return None  # a Procore attachment has no page of its own; the record links to the bill


class _LockRefused(Exception):
    """Procore refused to clear or set a direct cost's ``origin_id`` (its message)."""


def _named(direct_cost: DirectCost, file_name: str, *, exclude: set[int] | None = None) -> int | None:
    """The id of the direct cost's file called ``file_name`` (the newest, outside ``exclude``)."""
    matches = [
        a.id for a in direct_cost.attachments or [] if a.filename == file_name and a.id not in (exclude or set())
    ]
    return max(matches) if matches else None
