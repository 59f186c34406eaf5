"""Seeded attachment files: two documents on one approved subcontractor invoice.

Kept apart from :mod:`trestle.sandbox.scenario` (the business data) because files are bytes, not
records: the Procore seed calls :func:`seed_claim_attachments` once its requisitions exist. The
claim is the first approved one (by id) of a project in the stage that sends projects to Xero, so a
default run of progress claims writes its bill. Content is deterministic for a seed.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the sandboxes' seeds import this module: it must not import them back at load time
    from trestle.sandbox.procore.state import ProcoreState

SEND_STAGE = "Send to Xero"
APPROVED = ("approved", "approved_as_noted")
CLAIM_FILES = (
    ("subcontractor-invoice.pdf", "application/pdf", 48_000),
    ("progress-photos.jpg", "image/jpeg", 120_000),
)


def file_bytes(name: str, size: int, seed: int = 1) -> bytes:
    """``size`` reproducible bytes for the file ``name``."""
    return random.Random(f"{seed}:{name}").randbytes(size)


def seed_claim_attachments(state: ProcoreState) -> None:
    """Attach :data:`CLAIM_FILES` to the first approved claim of a project in the send stage."""
    from trestle.sandbox.procore.routes_attachments import add_file

    send_stage_ids = {stage_id for stage_id, stage in state.project_stages.items() if stage["name"] == SEND_STAGE}
    sendable = {pid for pid, project in state.projects.items() if project.get("project_stage_id") in send_stage_ids}
    claim = next(
        (
            record
            for _, record in sorted(state.requisitions.items())
            if record["status"] in APPROVED and record["project_id"] in sendable
        ),
        None,
    )
    if claim is None:
        return
    claim["attachments"] = [
        add_file(state, name, file_bytes(name, size), content_type) for name, content_type, size in CLAIM_FILES
    ]
