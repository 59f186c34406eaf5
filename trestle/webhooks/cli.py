"""``trestle webhooks install|status|remove [--pair P]``: the change feed's hook at Procore (see :mod:`.setup`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

EXIT_OK, EXIT_FAILED = 0, 2


def add_webhooks_commands(commands: Any) -> None:
    """Register ``webhooks install``, ``webhooks status`` and ``webhooks remove`` on ``commands``."""
    webhooks = commands.add_parser("webhooks", help="the optional Procore change feed: hook, triggers, status")
    actions = webhooks.add_subparsers(title="webhooks commands", metavar="ACTION")
    install = actions.add_parser("install", help="register (or refresh) the pair's hook and triggers at Procore")
    install.add_argument("--url", help="where Procore delivers (default: the portal's public URL + receiver path)")
    status = actions.add_parser("status", help="the hook, its triggers, the last delivery received and failures")
    remove = actions.add_parser("remove", help="delete the pair's hook at Procore")
    for parser, handler in ((install, cmd_install), (status, cmd_status), (remove, cmd_remove)):
        parser.add_argument("--pair", help="the pair (default: TRESTLE_PAIR)")
        parser.set_defaults(handler=handler)


def _context(args: argparse.Namespace) -> Any:
    from trestle.settings import load_settings
    from trestle.tasks.context import RunContext

    return RunContext(load_settings(args.pair))


def cmd_install(args: argparse.Namespace) -> int:
    """Register the hook and triggers; print what changed."""
    from trestle.webhooks.setup import install

    ctx = _context(args)
    result = install(ctx, args.url)
    verb = "created" if result.created else "refreshed (new secret)"
    print(f"pair {ctx.settings.pair}: hook {result.hook_id} {verb} → {result.destination_url}")
    print(f"triggers added: {len(result.added)}, removed: {len(result.removed)}")
    for key, reason in sorted(result.refused.items()):
        print(f"trigger refused by Procore: {key}: {reason} (that stream keeps polling every project)")
    if not ctx.settings.sync.change_feed:
        print("the nightly uses the feed once TRESTLE_SYNC_CHANGE_FEED=true")
    return EXIT_FAILED if result.refused else EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    """Print the feed's state; 2 when it is unhealthy."""
    from trestle.webhooks.setup import status_lines

    lines = status_lines(_context(args))
    print("\n".join(lines))
    return EXIT_FAILED if any(line.startswith(("unhealthy", "no hook")) for line in lines) else EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    """Delete the hook at Procore and forget it."""
    from trestle.webhooks.setup import remove

    ctx = _context(args)
    print(f"pair {ctx.settings.pair}: {remove(ctx)}")
    if ctx.settings.sync.change_feed:
        print("TRESTLE_SYNC_CHANGE_FEED is on: streams sweep every project until a hook exists", file=sys.stderr)
    return EXIT_OK
