"""The full list of records a run wrote, skipped or failed: the email's CSV attachment and the
Prefect table artifact (the email itself shows only the first few per integration).

One row per record, in words (the same field names and values the email uses), so a bookkeeper
can sort and filter it in a spreadsheet.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from trestle.models.report import RunReport
from trestle.notifications.view import record_row, system_name, verb

COLUMNS = (
    "integration",
    "status",
    "record",
    "type",
    "source",
    "source id",
    "target",
    "target id",
    "changes",
    "reason",
    "review issues",
    "source link",
    "target link",
)


def record_rows(report: RunReport) -> list[dict[str, Any]]:
    """Every listed outcome of the run (unchanged records are only counted), as CSV-ready rows."""
    rows = []
    for item in report.integrations:
        dry_run = report.dry_run or item.dry_run
        for outcome in item.outcomes:
            row = record_row(outcome, dry_run)
            changes = [f"{c.field}: {c.before} → {c.after}" for c in row.changes]
            if row.linked:
                changes.insert(0, row.linked)
            rows.append(
                {
                    "integration": item.title,
                    "status": verb(outcome.action, dry_run),
                    "record": outcome.label,
                    "type": outcome.entity,
                    "source": system_name(outcome.source_system),
                    "source id": outcome.source_id,
                    "target": system_name(outcome.target_system),
                    "target id": outcome.target_id or "",
                    "changes": "; ".join(changes),
                    "reason": outcome.reason or "",
                    "review issues": ", ".join(outcome.issue_codes),
                    "source link": outcome.source_url or "",
                    "target link": outcome.target_url or "",
                }
            )
    return rows


def records_csv(report: RunReport) -> str:
    """:func:`record_rows` as CSV text with a header row (empty but for the header when nothing changed)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(record_rows(report))
    return buffer.getvalue()


def csv_filename(report: RunReport) -> str:
    """``trestle-<pair>-<flow>-<date>.csv`` for the attachment."""
    return f"trestle-{report.pair}-{report.flow}-{report.started_at:%Y-%m-%d}.csv".replace(" ", "-")
