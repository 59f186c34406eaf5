"""What ``trestle run`` and ``trestle demo`` print after a run: a table of counts per
integration, on a dry run every planned write (field by field for updates, in the email's
words), and where the summary email went.
"""

from __future__ import annotations

from typing import Any

from trestle.notifications.email import RECENT_DELIVERIES
from trestle.notifications.view import verb
from trestle.notifications.words import field_words, is_link_field, show_value


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as a short table for a terminal, then the planned writes of a dry run."""
    dry_run = bool(summary.get("dry_run"))
    mode = "DRY RUN (nothing was written) — " if dry_run else ""
    lines = [f"{mode}{summary.get('flow', 'run')}: {summary.get('outcome')}"]
    header = f"{'integration':<18}{'created':>8}{'updated':>8}{'unchanged':>10}{'skipped':>8}{'failed':>7}{'issues':>7}"
    lines += [header, "-" * len(header)]
    for name, item in summary.get("integrations", {}).items():
        lines.append(
            f"{name:<18}{item['created']:>8}{item['updated']:>8}{item['unchanged']:>10}{item['skipped']:>8}"
            f"{item['failed']:>7}{item['review_issues']:>7}  {item['outcome']}"
        )
        for note in item.get("notes", []):
            lines.append(f"    note: {note}")
        if item.get("error"):
            lines.append(f"    error: {item['error']}")
    calls = ", ".join(f"{system} {count}" for system, count in summary.get("api_calls", {}).items())
    lines.append(f"API calls: {calls or 'none'}")
    if summary.get("error"):
        lines.append(f"error: {summary['error']}")
    if dry_run:
        lines += planned_lines(summary)
    return "\n".join(lines)


def planned_lines(summary: dict[str, Any]) -> list[str]:
    """Each write a dry run planned, per integration; an update lists the fields it would change."""
    lines: list[str] = []
    for name, item in summary.get("integrations", {}).items():
        planned = item.get("planned") or []
        if not planned:
            continue
        lines += ["", f"{name}: {len(planned)} planned write(s)"]
        for write in planned:
            lines.append(f"  {verb(write['action'], True)} {write['entity']} {write['record']}")
            for change in write.get("changes", []):
                if is_link_field(change["field"]):
                    continue
                before, after = show_value(change.get("before")), show_value(change.get("after"))
                lines.append(f"      {field_words(change['field'])}: {before} → {after}")
    return lines


def email_line(summary: dict[str, Any]) -> str | None:
    """Where this run's summary email went ("written to …", "sent via …"), if it was delivered here."""
    result = RECENT_DELIVERIES.pop(str(summary.get("run_id")), None)
    if result is None:
        return None
    if result.action == "written" and result.path is not None:
        return f"Summary email written to {result.path} (open {result.path.with_suffix('.html')} in a browser)"
    if result.action == "sent":
        return f"Summary email {result.detail}"
    return f"Summary email: {result.detail}"
