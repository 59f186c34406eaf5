"""Seeded attachment files: two documents on one approved subcontractor invoice, one on a bill.

Kept apart from :mod:`trestle.sandbox.scenario` (the business data) because files are bytes, not
records: the Procore seed calls :func:`seed_claim_attachments` once its requisitions exist, the Xero
seed :func:`seed_bill_attachments` once its bills do. The claim is the first approved one (by id) of
a project in the stage that sends projects to Xero, so a default run of progress claims writes its
bill; the bill is the first approved one (by number) whose every line names one project and a cost
code, so a default run of direct invoices makes it a direct cost. Content is deterministic.

``documents`` files more of them (the next eligible ones in the same order): the chaos suite asks for
that through the control routes ``POST /_sandbox/attachments`` of each sandbox, so that the
attachment integrations have several files to write when their kill is due. The default seed keeps
one document each (other tests count its files).
"""

from __future__ import annotations

import random
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the sandboxes' seeds import this module: it must not import them back at load time
    from trestle.sandbox.procore.state import ProcoreState
    from trestle.sandbox.xero.state import XeroState

SEND_STAGE = "Send to Xero"
APPROVED = ("approved", "approved_as_noted")
CLAIM_FILES = (
    ("subcontractor-invoice.pdf", "application/pdf", 48_000),
    ("progress-photos.jpg", "image/jpeg", 120_000),
)


BILL_FILES = (("supplier-invoice.pdf", "application/pdf", 64_000),)


def file_bytes(name: str, size: int, seed: int = 1) -> bytes:
    """``size`` reproducible bytes for the file ``name``."""
    return random.Random(f"{seed}:{name}").randbytes(size)


def seed_claim_attachments(state: ProcoreState, documents: int = 1) -> int:
    """Attach :data:`CLAIM_FILES` to the first ``documents`` approved claims of projects in the send
    stage that have no files yet; returns how many claims got them."""
    from trestle.sandbox.procore.routes_attachments import add_file

    send_stage_ids = {stage_id for stage_id, stage in state.project_stages.items() if stage["name"] == SEND_STAGE}
    sendable = {pid for pid, project in state.projects.items() if project.get("project_stage_id") in send_stage_ids}
    claims = [
        record
        for _, record in sorted(state.requisitions.items())
        if record["status"] in APPROVED and record["project_id"] in sendable and not record.get("attachments")
    ][:documents]
    for claim in claims:
        claim["attachments"] = [
            add_file(state, name, file_bytes(name, size), content_type) for name, content_type, size in CLAIM_FILES
        ]
    return len(claims)


def seed_bill_attachments(state: XeroState, documents: int = 1) -> int:
    """Attach :data:`BILL_FILES` to the first ``documents`` approved bills coded to exactly one project
    and cost codes that have no files yet; returns how many bills got them."""
    from trestle.sandbox.xero.attachments import ATTACHMENTS_KEY, attach

    category_names = {key: category["Name"] for key, category in state.tracking_categories.items()}

    def options(line: dict[str, Any], category: str) -> set[str]:
        tracking = line.get("Tracking") or []
        return {t["TrackingOptionID"] for t in tracking if category_names.get(t["TrackingCategoryID"]) == category}

    def coded_to_one_project(bill: dict[str, Any]) -> bool:
        lines = bill.get("LineItems") or []
        projects = set().union(*(options(line, "Project") for line in lines)) if lines else set()
        return len(projects) == 1 and all(options(line, "Cost Code") for line in lines)

    bills = sorted(
        (bill for bill in state.invoices.values() if bill["Type"] == "ACCPAY" and bill["Status"] == "AUTHORISED"),
        key=lambda bill: str(bill.get("InvoiceNumber") or ""),
    )
    chosen = [
        bill
        for bill in bills
        if bill.get("InvoiceNumber") and coded_to_one_project(bill) and not bill.get(ATTACHMENTS_KEY)
    ][:documents]
    for bill in chosen:
        for name, mime_type, size in BILL_FILES:
            stable_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{bill['InvoiceID']}/{name}"))
            attach(state, bill, name, file_bytes(name, size), mime_type, seeding=True, attachment_id=stable_id)
    return len(chosen)
