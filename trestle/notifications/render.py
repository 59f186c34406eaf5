"""Turn a :class:`~trestle.models.report.RunReport` into the summary people read: the morning
email (HTML and plain text) and the markdown shown as a Prefect artifact.

All three come from Jinja2 templates in ``trestle/notifications/templates`` fed the same
:class:`~trestle.notifications.view.SummaryView`, so they cannot disagree about the facts.
Settings are never passed to a template, so no secret can end up in a summary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from trestle.models.report import RunReport
from trestle.notifications.view import SummaryView, build_view, problem_count, verb

MARKDOWN_ROW_LIMIT = 100
"""Records per group in the Prefect markdown; the table artifact holds every record."""

_FONT = "-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif"
STYLES: dict[str, str] = {
    "body": f"margin:0;padding:0;background:#f4f5f7;font-family:{_FONT};font-size:14px;color:#1f2933;",
    # overflow-wrap on the container: a long URL or record name wraps instead of widening the page.
    "container": (
        "max-width:760px;margin:0 auto;background:#ffffff;padding:16px;overflow-wrap:anywhere;word-break:break-word;"
    ),
    "banner": (
        "background:#fff4e5;border:2px solid #d97706;color:#92400e;font-weight:bold;"
        "font-size:16px;padding:10px 14px;margin-bottom:14px;text-align:center;"
    ),
    "h1": "font-size:20px;margin:0 0 6px 0;",
    "h2": "font-size:18px;margin:22px 0 8px 0;border-bottom:2px solid #e4e7eb;padding-bottom:4px;",
    "h3": "font-size:15px;font-weight:bold;margin:0 0 4px 0;",
    "h4": "font-weight:bold;margin:8px 0 2px 0;",
    "card": "border:1px solid #e4e7eb;border-left:4px solid #b45309;padding:8px 10px;margin:0 0 10px 0;",
    "section": "margin:0 0 14px 0;",
    "fix": "background:#f0f7ff;padding:6px 8px;margin:4px 0;",
    "pill": "background:#b45309;color:#fff;padding:0 6px;border-radius:8px;font-size:12px;",
    "badge": "display:inline-block;color:#ffffff;font-weight:bold;padding:2px 8px;border-radius:4px;",
    "muted": "color:#616e7c;font-size:12px;",
    "error": "background:#fdecea;border-left:4px solid #b91c1c;padding:8px 12px;margin:8px 0;",
    "count": "display:inline-block;margin:0 14px 4px 0;",
    "count_number": "font-size:18px;",
    "list": "margin:4px 0;padding-left:18px;",
    "li": "margin:0 0 4px 0;",
    "link": "color:#1d4ed8;",
}
OUTCOME_COLORS: dict[str, str] = {
    "success": "#15803d",
    "skipped": "#616e7c",
    "issues": "#b45309",
    "blocked": "#b45309",
    "failed": "#b91c1c",
}

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~])")


@dataclass(frozen=True)
class RenderedEmail:
    """The summary email's subject and its two bodies."""

    subject: str
    html: str
    text: str


def markdown_text(value: Any) -> str:
    """Escape ``value`` so markdown shows it literally, on one line (safe inside table cells)."""
    flat = " ".join(str(value).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)


def markdown_url(value: Any) -> str:
    """Percent-encode what would end a markdown link target early."""
    return str(value).replace(" ", "%20").replace("(", "%28").replace(")", "%29").replace("<", "%3C")


def counts_line(counts: list[tuple[str, int]], separator: str = ", ") -> str:
    """``[("created", 2), ("issues", 1)]`` → ``2 created, 1 issue``."""
    return separator.join(
        f"{count} {'issue' if label == 'issues' and count == 1 else label}" for label, count in counts
    )


def calls_line(calls: list[tuple[str, int]], separator: str = ", ") -> str:
    """``[("Procore", 11), ("Xero", 15)]`` → ``Procore 11, Xero 15``."""
    return separator.join(f"{system} {count}" for system, count in calls)


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("trestle.notifications", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = markdown_text
    env.filters["mdurl"] = markdown_url
    env.filters["counts"] = counts_line
    env.filters["calls"] = calls_line
    env.globals["styles"] = STYLES
    env.globals["colors"] = OUTCOME_COLORS
    return env


def summary_subject(report: RunReport) -> str:
    """``Trestle [pair] nightly: 12 created, 3 updated, 2 issues``, flagged on dry runs and failures.

    Waiting states (not approved yet, nothing to bill) are not issues and are not counted here."""
    totals = report.totals
    parts = [f"{totals['created']} {verb('created', report.dry_run)}"]
    parts.append(f"{totals['updated']} {verb('updated', report.dry_run)}")
    for action in ("deleted", "failed"):
        if totals.get(action):
            parts.append(f"{totals[action]} {verb(action, report.dry_run)}")
    issues = problem_count(report)
    parts.append(f"{issues} issue{'' if issues == 1 else 's'}")
    status = " FAILED" if report.outcome == "failed" else ""
    prefix = "DEBUG MODE — " if report.dry_run else ""
    return f"{prefix}Trestle [{report.pair}] {report.flow}{status}: {', '.join(parts)}"


def _render(template: str, view: SummaryView, subject: str) -> str:
    return _environment().get_template(template).render(view=view, subject=subject)


def render_summary(report: RunReport) -> RenderedEmail:
    """Render the summary email for ``report``: what needs action first, then what changed."""
    view = build_view(report)
    subject = summary_subject(report)
    return RenderedEmail(
        subject=subject,
        html=_render("summary.html.j2", view, subject),
        text=_render("summary.txt.j2", view, subject),
    )


def render_markdown(report: RunReport, row_limit: int = MARKDOWN_ROW_LIMIT) -> str:
    """Render the summary as markdown for the Prefect UI, up to ``row_limit`` records per group."""
    view = build_view(report, first_records=row_limit, issue_records=row_limit, waiting_records=row_limit)
    return _render("summary.md.j2", view, summary_subject(report))
