"""``trestle tokens``: re-authorise a pair, make and rotate the key that encrypts stored tokens.

* ``trestle tokens reset --pair P [--system procore|xero]`` replaces the stored refresh token by
  the configured one (``TRESTLE_PROCORE_REFRESH_TOKEN`` or the settings file), else by one read
  from a prompt (or standard input when it is not a terminal). The one command every
  "refresh token no longer works" message names.
* ``trestle tokens new-key`` prints a fresh key for ``TRESTLE_SECRET_KEY``.
* ``trestle tokens rekey`` re-encrypts every stored token with the first key of
  ``TRESTLE_SECRET_KEY`` (after a new key was put in front of the old ones).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

EXIT_OK, EXIT_FAILED = 0, 2


def add_tokens_commands(commands: Any) -> None:
    """Register ``tokens reset``, ``tokens new-key`` and ``tokens rekey`` on ``commands``."""
    tokens = commands.add_parser("tokens", help="stored OAuth tokens: re-authorise, encryption keys")
    tokens_commands = tokens.add_subparsers(title="tokens commands", metavar="COMMAND")
    reset = tokens_commands.add_parser(
        "reset", help="replace the stored refresh token (from TRESTLE_*_REFRESH_TOKEN or a prompt)"
    )
    reset.add_argument("--pair", help="the pair to re-authorise (default: TRESTLE_PAIR)")
    reset.add_argument("--system", choices=("procore", "xero"), default="procore")
    reset.set_defaults(handler=cmd_tokens_reset)
    new_key = tokens_commands.add_parser("new-key", help="print a new key for TRESTLE_SECRET_KEY")
    new_key.set_defaults(handler=cmd_tokens_new_key)
    rekey = tokens_commands.add_parser("rekey", help="re-encrypt stored tokens with the first TRESTLE_SECRET_KEY")
    rekey.set_defaults(handler=cmd_tokens_rekey)


def cmd_tokens_reset(args: argparse.Namespace) -> int:
    """Replace the stored refresh token of ``args.system`` for the pair."""
    from trestle.db import check_schema, make_engine
    from trestle.models.store import LinkStore
    from trestle.models.tokens import token_store_for
    from trestle.settings import load_settings

    settings = load_settings(args.pair, secrets=False)
    configured = getattr(settings, args.system).refresh_token
    refresh_token = configured.get_secret_value() if configured else _ask(args.system)
    if not refresh_token:
        print("trestle: no refresh token given; nothing changed", file=sys.stderr)
        return EXIT_FAILED
    engine = make_engine(settings.database_url or "")
    check_schema(engine)
    token_store_for(settings, LinkStore(engine, settings.pair)).reset(args.system, refresh_token)
    source = "the configured" if configured else "the given"
    print(f"pair {settings.pair}: the stored {args.system} tokens were replaced by {source} refresh token")
    return EXIT_OK


def cmd_tokens_new_key(args: argparse.Namespace) -> int:
    """Print a new Fernet key."""
    from trestle.crypto import new_key

    print(new_key())
    return EXIT_OK


def cmd_tokens_rekey(args: argparse.Namespace) -> int:
    """Re-encrypt every stored token of every pair with the newest key."""
    from trestle.crypto import cipher_for
    from trestle.db import check_schema, make_engine
    from trestle.models.tokens import rekey_tokens
    from trestle.settings import install_settings

    settings = install_settings()
    engine = make_engine(settings.database_url or "")
    check_schema(engine)
    count = rekey_tokens(engine, cipher_for(settings))
    print(f"re-encrypted {count} stored token row(s) with the first key of TRESTLE_SECRET_KEY")
    return EXIT_OK


def _ask(system: str) -> str:
    prompt = f"new {system} refresh token (input hidden): "
    if sys.stdin.isatty():
        return getpass.getpass(prompt).strip()
    return sys.stdin.readline().strip()
