"""``trestle run``: one flow now, in this process, without a Prefect server, and its summary.

``--record ID`` (repeatable) makes it a one-record run of one integration: only those source
records are read and written, and no cursor moves (the flows' ``records`` parameter).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

EXIT_OK, EXIT_ISSUES, EXIT_FAILED = 0, 1, 2


def add_run_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``trestle run``."""
    run = commands.add_parser("run", help="run one integration now, without a Prefect server")
    run.add_argument("integration", help=", ".join(flow_choices()))
    run.add_argument("--project-number", help="the project for single-project runs")
    run.add_argument("--dry-run", action="store_true", help="do everything but write; report what would change")
    run.add_argument("--full-refresh", action="store_true", help="ignore the incremental cursor and re-read all")
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    run.add_argument("--no-email", action="store_true", help="do not send or write the summary email")
    run.add_argument("--pair", help="the Procore company / Xero tenant pair (default TRESTLE_PAIR)")
    run.add_argument("--record", action="append", metavar="ID", help="run only this source record (repeatable)")
    run.set_defaults(handler=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from trestle.flows import get_flow

    try:
        flow = get_flow(args.integration.replace("-", "_"))
    except (KeyError, ImportError):
        known = ", ".join(flow_choices())
        print(f"trestle: unknown integration {args.integration!r}; known: {known}", file=sys.stderr)
        return EXIT_FAILED
    parameters: dict[str, Any] = {"dry_run": args.dry_run, "notify": not args.no_email}
    accepted = set(flow.parameters.properties)
    if "full_refresh" in accepted:
        parameters["full_refresh"] = args.full_refresh
    if "project_number" in accepted:
        if not args.project_number:
            print("trestle: single-project needs --project-number N", file=sys.stderr)
            return EXIT_FAILED
        parameters["project_number"] = args.project_number
    if args.record:
        if "records" not in accepted:
            print(
                f"trestle: {args.integration} has no one-record runs; --record is for one integration", file=sys.stderr
            )
            return EXIT_FAILED
        parameters["records"] = args.record
    check_connections()
    summary = run_flow(flow, **parameters)
    print(json.dumps(summary, indent=2, default=str) if args.json else format_summary(summary))
    print_email_line(summary, to_stderr=args.json)
    return int(summary.get("exit_code", EXIT_FAILED))


def check_connections() -> None:
    """Before a run from the terminal: the database answers and both systems grant a token.

    Refused credentials or an unreachable host stop here with one clear line (see
    :mod:`trestle.failures`) instead of a failed run's summary.
    """
    from trestle.settings import load_settings
    from trestle.tasks.context import RunContext

    settings = load_settings()
    settings.require_connections()
    _ensure_schema(settings)
    ctx = RunContext(settings)
    try:
        for client in (ctx.procore, ctx.xero):
            client.authenticator.auth_headers()
    finally:
        ctx.close()


def run_flow(flow: Any, **parameters: Any) -> dict[str, Any]:
    """Run a flow in this process and return its summary (from the report in the flow's final state)."""
    from trestle.notifications.artifacts import PROGRESS_LISTENERS
    from trestle.settings import load_settings

    settings = load_settings()
    settings.require_connections()
    _ensure_schema(settings)
    PROGRESS_LISTENERS.append(show_progress)
    try:
        state = flow(**parameters, return_state=True)
    finally:
        PROGRESS_LISTENERS.remove(show_progress)
    summary = _summary_for(state)
    if summary is None:
        message = getattr(state, "message", None) or "the flow failed before it could report"
        return {"outcome": "failed", "exit_code": EXIT_FAILED, "error": message, "integrations": {}}
    return summary


def show_progress(description: str, percent: float | None, done: int) -> None:
    """One progress line on stderr per update: the terminal's view of a long run."""
    shown = f"{percent:3.0f}%" if percent is not None else "    "
    print(f"  {shown}  {description}: {done}", file=sys.stderr, flush=True)


def _ensure_schema(settings: Any) -> None:
    from trestle.db import check_schema, make_engine

    check_schema(make_engine(settings.database_url))


def _summary_for(state: Any) -> dict[str, Any] | None:
    """The summary of the report the flow returned in its final state (None if it did not report)."""
    from trestle.flows.common import report_of

    report = report_of(state)
    return report.summary_dict() if report is not None else None


def flow_choices() -> list[str]:
    """What ``trestle run`` accepts: every flow, as typed on a command line (dashes)."""
    from trestle.flows import flow_names

    return [name.replace("_", "-") for name in flow_names()]


def format_summary(summary: dict[str, Any]) -> str:
    """The summary for a terminal (:func:`trestle.run_output.format_summary`)."""
    from trestle.run_output import format_summary as formatted

    return formatted(summary)


def print_email_line(summary: dict[str, Any], *, to_stderr: bool) -> None:
    """Say where the run's summary email went (on stderr with ``--json``, to keep stdout JSON)."""
    from trestle.run_output import email_line

    if line := email_line(summary):
        print(line, file=sys.stderr if to_stderr else sys.stdout)
