"""The ``trestle`` command.

Exit codes for runs: 0 success, 1 finished with review issues, 2 failed (including a bad
configuration or an out-of-date database schema).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

for _name, _value in (
    ("PREFECT_SERVER_ANALYTICS_ENABLED", "false"),
    ("DO_NOT_TRACK", "1"),
    # Prefect's temporary server takes ~7 s to start; on a busy 2-core box 20 s is too tight.
    ("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120"),
):
    os.environ.setdefault(_name, _value)

from trestle.run_cli import (  # noqa: E402 - after the environment defaults above
    EXIT_FAILED,
    EXIT_ISSUES,
    EXIT_OK,
    add_run_command,
    check_connections,
    format_summary,
    print_email_line,
    run_flow,
    show_progress,
)

__all__ = ["EXIT_FAILED", "EXIT_ISSUES", "EXIT_OK", "check_connections", "main", "run_flow", "show_progress"]
DEMO_HOME = Path(".trestle/demo")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in arguments  # accepted anywhere on the line, not only before the command
    args = parser.parse_args([argument for argument in arguments if argument != "--debug"])
    args.debug = debug
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_FAILED
    if args.handler not in (cmd_up, cmd_serve):
        # Terminal commands print their own summary; served runs keep Prefect's INFO logs for the UI.
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    if getattr(args, "pair", None):
        os.environ["TRESTLE_PAIR"] = args.pair
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`trestle review | head`): stop quietly, as other terminal tools do.
        _silence_stdout()
        return EXIT_OK
    except Exception as exc:
        return _expected_failure(exc, debug=args.debug)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail on the closed pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _expected_failure(exc: Exception, *, debug: bool) -> int:
    """One line naming the setting and the fix, exit 2; the traceback only with ``--debug``.

    An exception :func:`trestle.failures.explain` does not know is a bug and is raised as is.
    """
    import traceback

    from trestle.failures import explain

    line = explain(exc, os.environ.get("TRESTLE_DATABASE_URL") or _database_url())
    if line is None:
        raise exc
    if debug:
        traceback.print_exception(exc)
    print(f"trestle: {line}", file=sys.stderr)
    return EXIT_FAILED


def _database_url() -> str | None:
    try:
        from trestle.settings import install_settings

        return install_settings().database_url
    except Exception:  # the settings themselves are what failed
        return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trestle", description="Procore ⇄ Xero integrations as Prefect flows.")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an expected failure too")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    sandbox = commands.add_parser("sandbox", help="serve the local Xero and Procore simulators")
    add_sandbox_arguments(sandbox)
    sandbox.add_argument("--env-file", type=Path, help="also write the TRESTLE_* settings to this file")
    sandbox.set_defaults(handler=cmd_sandbox)

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(title="db commands", metavar="ACTION")
    upgrade = db_commands.add_parser("upgrade", help="apply migrations to TRESTLE_DATABASE_URL")
    upgrade.set_defaults(handler=cmd_db_upgrade)

    add_run_command(commands)

    from trestle.links_cli import add_link_commands

    add_link_commands(commands)

    from trestle.spec import add_spec_command

    add_spec_command(commands)

    review = commands.add_parser(
        "review", help="open review issues by integration and code, with what each means and how to fix it"
    )
    review.add_argument("text", nargs="?", help="part of a record's name, id or issue code")
    review.add_argument("--all", action="store_true", help="include resolved issues")
    review.add_argument("--integration", help="only this integration (vendors, commitments, …)")
    review.add_argument("--code", help="only this issue code (commitment.not_approved, …)")
    review.add_argument("--older-than", type=int, metavar="DAYS", help="only issues open at least DAYS days")
    review.add_argument("--json", action="store_true", help="print as JSON")
    review.add_argument("--pair", help="the Procore company / Xero tenant pair (default TRESTLE_PAIR)")
    review.set_defaults(handler=cmd_review)

    doctor = commands.add_parser("doctor", help="check configuration, database, Procore and Xero access and setup")
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")
    doctor.add_argument("--pair", help="the Procore company / Xero tenant pair (default TRESTLE_PAIR)")
    doctor.set_defaults(handler=cmd_doctor)

    serve = commands.add_parser("serve", help="serve every deployment from this process (Prefect serve, no work pool)")
    serve.add_argument("--timezone", help="time zone of the schedules (default TRESTLE_TIMEZONE or Australia/Sydney)")
    serve.add_argument("--limit", type=int, help="at most this many flow runs at once")
    serve.set_defaults(handler=cmd_serve)

    portal = commands.add_parser(
        "portal", help="serve the portal: review issues, records and runs behind a Procore sign-in"
    )
    portal.add_argument("--host", help="address to listen on (default TRESTLE_PORTAL_HOST or 127.0.0.1)")
    portal.add_argument("--port", type=int, help="port (default TRESTLE_PORTAL_PORT or 4300)")
    portal.set_defaults(handler=cmd_portal)

    up = commands.add_parser(
        "up", help="start a Prefect server with its UI, the sandboxes and every deployment; Ctrl-C stops all"
    )
    up.add_argument("--host", default="127.0.0.1", help="address of the Prefect server and UI")
    up.add_argument("--port", type=int, default=4200, help="Prefect server and UI port")
    up.add_argument(
        "--public-url",
        help="the UI's address for browsers on other machines (default with --host 0.0.0.0: this machine's address)",
    )
    up.add_argument("--home", type=Path, help="state folder (default TRESTLE_HOME or .trestle)")
    up.add_argument(
        "--sandbox",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="start the sandboxes (default: when no real Procore/Xero connection is configured)",
    )
    up.add_argument("--dataset", default="medium", choices=["small", "medium", "large"], help="sandbox data size")
    up.add_argument("--rate-limits", default="scaled:10", help="sandbox rate limits (real | off | scaled:F)")
    up.add_argument("--xero-port", type=int, default=4010, help="Xero sandbox port (0: any free port)")
    up.add_argument("--procore-port", type=int, default=4020, help="Procore sandbox port (0: any free port)")
    up.add_argument("--portal-port", type=int, default=None, help="portal port (default TRESTLE_PORTAL_PORT or 4300)")
    up.add_argument("--no-serve", action="store_true", help="do not serve deployments (use a work pool and workers)")
    up.add_argument("--timezone", help="time zone of the schedules (default TRESTLE_TIMEZONE or Australia/Sydney)")
    up.set_defaults(handler=cmd_up)

    deployments = commands.add_parser("deployments", help="the deployment catalog")
    deployments_commands = deployments.add_subparsers(title="deployments commands", metavar="ACTION")
    as_yaml = deployments_commands.add_parser("yaml", help="print prefect.yaml for these deployments")
    as_yaml.add_argument("--timezone", default=None)
    as_yaml.set_defaults(handler=cmd_deployments_yaml)

    from trestle.tokens_cli import add_tokens_commands

    add_tokens_commands(commands)

    from trestle.webhooks.cli import add_webhooks_commands

    add_webhooks_commands(commands)

    demo = commands.add_parser("demo", help="start the sandboxes and run the main job against them")
    demo.add_argument("--dataset", default="medium", choices=["small", "medium", "large"])
    demo.add_argument("--rate-limits", default="scaled:10", help="sandbox rate limits (real | off | scaled:F)")
    demo.add_argument("--home", type=Path, default=DEMO_HOME, help="demo database and outbox")
    demo.add_argument("--xero-port", type=int, help="Xero sandbox port (default: the demo's last, else 4010)")
    demo.add_argument("--procore-port", type=int, help="Procore sandbox port (default: the demo's last, else 4020)")
    demo.set_defaults(handler=cmd_demo)
    return parser


def add_sandbox_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default="small", choices=["small", "medium", "large"], help="seeded data size")
    parser.add_argument("--seed", type=int, default=1, help="seed for the generated data (same seed, same data)")
    parser.add_argument(
        "--rate-limits", default="real", help="real | off | scaled:F (F speeds the limits' clock up F times)"
    )
    parser.add_argument("--faults", help="error_rate=0.05,lost_rate=0.01,latency_ms=20,seed=7")
    parser.add_argument("--state-dir", type=Path, help="keep the sandboxes' data here across restarts")
    parser.add_argument("--xero-port", type=int, help="Xero simulator port (default 4010; 0: any free port)")
    parser.add_argument("--procore-port", type=int, help="Procore simulator port (default 4020; 0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--demo",
        nargs="?",
        const=DEMO_HOME,
        type=Path,
        metavar="HOME",
        help=f"serve the saved data of the demo in HOME (default {DEMO_HOME}) on its ports, so its emails' links open",
    )
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="turn strict mode off: do not check requests and responses against the official API specs",
    )


def cmd_sandbox(args: argparse.Namespace) -> int:
    from trestle.sandbox.common import FaultConfig, SavedStateMismatch, saved_dataset
    from trestle.sandbox.server import serve_forever, start_sandboxes

    ports = {"xero": 4010, "procore": 4020}
    if args.demo is not None:
        args.state_dir = args.state_dir or args.demo / "sandbox"
        saved = saved_dataset(args.state_dir)
        if saved is None:
            print(f"trestle: no demo data in {args.state_dir}; run `trestle demo` first", file=sys.stderr)
            return EXIT_FAILED
        args.dataset, args.seed = saved
        ports_file = args.state_dir / "ports.json"
        ports = json.loads(ports_file.read_text()) if ports_file.exists() else ports
    try:
        sandboxes = start_sandboxes(
            dataset=args.dataset,
            seed=args.seed,
            rate_limits=args.rate_limits,
            faults=FaultConfig.parse(args.faults),
            state_dir=args.state_dir,
            host=args.host,
            xero_port=ports["xero"] if args.xero_port is None else args.xero_port,
            procore_port=ports["procore"] if args.procore_port is None else args.procore_port,
            strict=not args.lenient,
        )
    except SavedStateMismatch as exc:
        print(f"trestle: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"Xero sandbox:    {sandboxes.xero.url}  (dataset {args.dataset}, seed {args.seed})")
    print(f"Procore sandbox: {sandboxes.procore.url}")
    print(f"Rate limits: {args.rate_limits}; stats at /_sandbox/stats on each. Ctrl-C stops.\n")
    print(sandboxes.env_file_text())
    if args.env_file:
        args.env_file.parent.mkdir(parents=True, exist_ok=True)
        args.env_file.write_text(sandboxes.env_file_text())
        print(f"Settings written to {args.env_file}: load them with `set -a; . {args.env_file}; set +a`")
    sys.stdout.flush()
    serve_forever(sandboxes)
    return EXIT_OK


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from trestle.db import make_engine, upgrade
    from trestle.settings import install_settings

    settings = install_settings()
    engine = make_engine(settings.database_url or "")
    before, after = upgrade(engine)
    where = engine.url.render_as_string(hide_password=True)
    print(f"{where}: schema {before or 'empty'} → {after}")
    return EXIT_OK


def cmd_review(args: argparse.Namespace) -> int:
    from trestle.db import check_schema, make_engine
    from trestle.links_cli import recent_link_lines
    from trestle.models.store import LinkStore
    from trestle.review import ReviewFilter, format_review, issue_rows, load_issues
    from trestle.settings import load_settings

    settings = load_settings()
    engine = make_engine(settings.database_url or "")
    check_schema(engine)
    wanted = ReviewFilter(args.text, args.integration, args.code, args.older_than, include_resolved=args.all)
    issues = load_issues(LinkStore(engine, settings.pair), wanted)
    if args.json:
        print(json.dumps(issue_rows(issues, settings.review_stale_days), indent=2))
    elif not issues:
        print("No open review issues" + (f" matching {args.text!r}." if args.text else "."))
    else:
        print(format_review(issues, settings.review_stale_days, settings.timezone))
    if not args.json and (links := recent_link_lines(LinkStore(engine, settings.pair))):
        print("\n" + "\n".join(links))
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from trestle.doctor import format_checks, run_checks
    from trestle.settings import pair_names

    # With several pairs and none chosen, check them all: each has its own credentials.
    pairs: list[str | None] = [None] if os.environ.get("TRESTLE_PAIR") else [*pair_names()] or [None]
    checks = []
    for pair in pairs:
        for check in run_checks(pair=pair):
            check.name = f"{pair}: {check.name}" if pair else check.name
            checks.append(check)
    print(json.dumps([asdict(check) for check in checks], indent=2) if args.json else format_checks(checks))
    return EXIT_OK if all(check.ok for check in checks) else EXIT_FAILED


def cmd_serve(args: argparse.Namespace) -> int:
    from trestle.deployments.serve import serve_all

    serve_all(timezone=args.timezone, limit=args.limit)
    return EXIT_OK


def cmd_portal(args: argparse.Namespace) -> int:
    from trestle.portal import serve

    # The address shapes the sign-in redirect URI, so flags set the settings rather than bypass them.
    if args.host:
        os.environ["TRESTLE_PORTAL_HOST"] = args.host
    if args.port is not None:
        os.environ["TRESTLE_PORTAL_PORT"] = str(args.port)
    serve()
    return EXIT_OK


def cmd_up(args: argparse.Namespace) -> int:
    from trestle.deployments.up import UpOptions, up
    from trestle.settings import install_settings

    home = args.home or install_settings().home
    options = UpOptions(
        home=home,
        host=args.host,
        port=args.port,
        sandbox=args.sandbox,
        dataset=args.dataset,
        rate_limits=args.rate_limits,
        xero_port=args.xero_port,
        procore_port=args.procore_port,
        serve=not args.no_serve,
        timezone=args.timezone,
        public_url=args.public_url,
        portal_port=args.portal_port,
    )
    return up(options)


def cmd_deployments_yaml(args: argparse.Namespace) -> int:
    print(deployments_yaml(args.timezone), end="")
    return EXIT_OK


def deployments_yaml(timezone: str | None = None) -> str:
    """prefect.yaml's text, generated from the deployment catalog."""
    import yaml

    from trestle.deployments.catalog import prefect_yaml
    from trestle.settings import pair_names

    header = (
        "# Generated from trestle/deployments/catalog.py (`trestle deployments yaml > prefect.yaml`); "
        "a test keeps it in step.\n"
        "# Deploy onto a `process` work pool named `trestle`: see the README, 'Running on a Prefect server'.\n"
    )
    body = prefect_yaml(timezone, pair_names())
    return header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True)


def cmd_demo(args: argparse.Namespace) -> int:
    """Sandboxes (state kept under --home) + SQLite + the nightly flow without a Prefect server.

    On a fresh demo home it then plays the accountant (pays some of the new bills in the Xero
    sandbox) and runs the payments flow, so every integration has something to do. Run again,
    it finds everything unchanged and writes nothing.
    """
    import httpx

    from trestle.db import current_revision, make_engine, upgrade
    from trestle.flows import get_flow
    from trestle.sandbox.server import start_sandboxes

    home: Path = args.home
    kwargs = {"dataset": args.dataset, "state_dir": home / "sandbox", "rate_limits": args.rate_limits}
    # The same ports every time: links in earlier emails keep working, and documents that carry a
    # link back to Procore (a bill's Url) do not look changed to the next run.
    ports_file = home / "sandbox" / "ports.json"
    ports = json.loads(ports_file.read_text()) if ports_file.exists() else {"xero": 4010, "procore": 4020}
    ports["xero"] = ports["xero"] if args.xero_port is None else args.xero_port
    ports["procore"] = ports["procore"] if args.procore_port is None else args.procore_port
    from trestle.sandbox.common import SavedStateMismatch

    try:
        sandboxes = start_sandboxes(**kwargs, xero_port=ports["xero"], procore_port=ports["procore"])
    except SavedStateMismatch as exc:
        print(f"trestle: {exc}; or use another --home", file=sys.stderr)
        return EXIT_FAILED
    except (OSError, RuntimeError):
        print(
            f"Ports {ports['xero']} and {ports['procore']} are taken; using free ones (links in earlier emails "
            "and bills from the last demo will point at the old ports)."
        )
        sandboxes = start_sandboxes(**kwargs, xero_port=0, procore_port=0)
    ports_file.parent.mkdir(parents=True, exist_ok=True)
    ports_file.write_text(json.dumps({"xero": sandboxes.xero.port, "procore": sandboxes.procore.port}))
    try:
        os.environ.update(sandboxes.env)
        os.environ["TRESTLE_HOME"] = str(home)
        os.environ.pop("TRESTLE_DATABASE_URL", None)
        # The demo company approves bills from Procore straight away, so they can be paid.
        os.environ.setdefault("TRESTLE_SYNC_BILL_STATUS", "AUTHORISED")
        from trestle.settings import load_settings

        settings = load_settings()
        engine = make_engine(settings.database_url or "")
        fresh = current_revision(engine) is None
        upgrade(engine)
        print(
            f"Sandboxes: Xero {sandboxes.xero.url}, Procore {sandboxes.procore.url} "
            f"(dataset {args.dataset}, rate limits {args.rate_limits})"
        )
        print(f"Database: {settings.database_url}\n")
        summary = run_flow(get_flow("nightly"), dry_run=False, full_refresh=False, notify=True)
        print(format_summary(summary))
        print_email_line(summary, to_stderr=False)
        if fresh and summary.get("outcome") != "failed":
            paid = httpx.post(
                f"{sandboxes.xero.url}/_sandbox/simulate/payments",
                json={"share": 0.6, "partial_share": 0.3, "seed": 1},
                timeout=60,
            ).json()
            print(f"\nThe accountant paid {paid['count']} bill(s) in Xero (some in part); payments again:\n")
            payments = run_flow(get_flow("payments"), dry_run=False, full_refresh=False, notify=True)
            print(format_summary(payments))
            print_email_line(payments, to_stderr=False)
        print(f"\nSummary emails are in {settings.email.outbox_dir}/ (open the .html files).")
        print(f"Review list: TRESTLE_HOME={home} .venv/bin/trestle review")
        demo_flag = "--demo" if home == DEMO_HOME else f"--demo {home}"
        print(f"To open the emails' links later, serve the demo's data again: .venv/bin/trestle sandbox {demo_flag}")
        print("Run `make demo` again: everything is unchanged and nothing is written.")
        return EXIT_FAILED if summary.get("outcome") == "failed" else EXIT_OK
    finally:
        sandboxes.stop()


if __name__ == "__main__":
    raise SystemExit(main())
