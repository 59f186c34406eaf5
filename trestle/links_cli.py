"""``trestle link`` and ``trestle unlink``: the person who knows decides which records are one.

When matching is ambiguous (``vendor.multiple_matches`` and the like) the matcher never guesses;
someone links the two records by hand::

    trestle link vendor --xero CONTACT_ID --procore VENDOR_ID [--by NAME]
    trestle link project --procore PROJECT_ID --xero TRACKING_OPTION_ID
    trestle link cost-code --procore STANDARD_COST_CODE_ID --xero TRACKING_OPTION_ID
    trestle unlink vendor --xero CONTACT_ID | --procore VENDOR_ID

A manual link (``origin = manual``, with who and when) is kept by every run: the matcher never
replaces it, the next run updates the target from the source as for any link and resolves the
record's matching issues. Both ids are looked up first (one call per system) and a link that
would tie a record twice is refused, naming the existing link and the unlink command (exit 2).

``unlink`` means "treat the record as new": the link is removed and the next run matches the
record again from scratch, so it may create a new target or match the same one again (by
``origin_id``, tax number or name). To move a link, unlink and link the right pair before the
next run. Every link and unlink is listed by ``trestle review`` and in the next run's summary.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from trestle.clients.errors import NotFoundError
from trestle.models.links import LinkRow
from trestle.models.manual_links import LinkConflict
from trestle.models.store import LinkStore
from trestle.tasks.context import RunContext

EXIT_OK, EXIT_FAILED = 0, 2
REVIEW_DAYS = 30
"""How far back ``trestle review`` lists manual links and unlinks."""


class LookupFailed(Exception):
    """An id given on the command line is not a record of that system (the message says which)."""


@dataclass(frozen=True)
class LinkKind:
    """What ``trestle link KIND`` links: the link store's entity and how each side is looked up.

    Each lookup returns the record's label (its name as the review list shows it) or raises
    :class:`LookupFailed`.
    """

    entity: str
    integration: str
    procore_name: str
    xero_name: str
    procore_lookup: Callable[[RunContext, str], str]
    xero_lookup: Callable[[RunContext, str], str]
    resolves: tuple[str, ...]  # the issue codes a manual link settles

    def source_id(self, procore_id: str, xero_id: str) -> str:
        """The id the integration's issues are raised on (its source record)."""
        from trestle.integrations import integration

        return procore_id if integration(self.integration).source_system == "procore" else xero_id


def _procore_number(value: str, what: str) -> int:
    if not value.isdigit():
        raise LookupFailed(f"{what} {value!r} is not a Procore id (a number)")
    return int(value)


def _xero_guid(value: str, what: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise LookupFailed(f"{what} {value!r} is not a Xero id (a GUID)") from None


def _vendor(ctx: RunContext, value: str) -> str:
    try:
        vendor = ctx.procore.vendor(_procore_number(value, "vendor"))
    except NotFoundError:
        raise LookupFailed(f"Procore has no vendor {value} in company {ctx.settings.procore.company_id}") from None
    return vendor.name or f"vendor {value}"


def _contact(ctx: RunContext, value: str) -> str:
    wanted = _xero_guid(value, "contact")
    found = list(ctx.xero.iter_contacts(ids=[wanted], include_archived=True))
    if not found:
        raise LookupFailed(f"Xero has no contact {value}")
    return found[0].name or f"contact {value}"


def _project(ctx: RunContext, value: str) -> str:
    try:
        project = ctx.procore.project(_procore_number(value, "project"))
    except NotFoundError:
        raise LookupFailed(f"Procore has no project {value}") from None
    return " ".join(part for part in (project.project_number, project.name) if part) or f"project {value}"


def _standard_cost_code(ctx: RunContext, value: str) -> str:
    from trestle.integrations.cost_codes import CostCodesIntegration

    number = _procore_number(value, "standard cost code")
    cost_codes = CostCodesIntegration(ctx)
    code_list = cost_codes._choose_list(ctx.procore.standard_cost_code_lists())
    code = next((c for c in ctx.procore.iter_standard_cost_codes(code_list.id) if c.id == number), None)
    if code is None:
        raise LookupFailed(f"Procore's cost code list '{code_list.name}' has no standard cost code {value}")
    return f"{code.full_code or code.code} {code.name or ''}".strip()


def _option_of(setting: str) -> Callable[[RunContext, str], str]:
    """A lookup of a tracking option in the category named by the ``sync`` setting ``setting``."""

    def lookup(ctx: RunContext, value: str) -> str:
        wanted = _xero_guid(value, "tracking option")
        category_name = str(getattr(ctx.settings.sync, setting))
        for category in ctx.xero.tracking_categories():
            if (category.name or "").casefold() != category_name.casefold():
                continue
            option = next((o for o in category.options or [] if o.tracking_option_id == wanted), None)
            if option is not None:
                return option.name or f"option {value}"
        raise LookupFailed(f"Xero's tracking category '{category_name}' has no option {value}")

    return lookup


KINDS: dict[str, LinkKind] = {
    "vendor": LinkKind(
        "vendor",
        "vendors",
        "vendor",
        "contact",
        _vendor,
        _contact,
        ("vendor.multiple_matches", "vendor.shared_match", "vendor.target_already_linked"),
    ),
    "project": LinkKind(
        "project",
        "projects",
        "project",
        "option",
        _project,
        _option_of("project_category"),
        ("project.target_already_linked",),
    ),
    "cost-code": LinkKind(
        "cost_code",
        "cost_codes",
        "standard cost code",
        "option",
        _standard_cost_code,
        _option_of("cost_code_category"),
        ("cost_code.target_already_linked",),
    ),
}


def default_user() -> str:
    """Who a link is recorded as made by: ``TRESTLE_USER``, else the operating system's user."""
    try:
        return os.environ.get("TRESTLE_USER") or getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (a bare container)
        return "unknown"


def add_link_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``trestle link`` and ``trestle unlink``."""
    link = commands.add_parser("link", help="link a Xero record and a Procore record by hand (matching is ambiguous)")
    link_kinds = link.add_subparsers(title="what to link", metavar="KIND")
    unlink = commands.add_parser("unlink", help="remove a link: the next run treats the record as new")
    unlink_kinds = unlink.add_subparsers(title="what to unlink", metavar="KIND")
    for name, kind in KINDS.items():
        one = link_kinds.add_parser(name, help=f"link a Procore {kind.procore_name} and a Xero {kind.xero_name}")
        one.add_argument("--xero", required=True, metavar="ID", help=f"the Xero {kind.xero_name}'s id")
        one.add_argument("--procore", required=True, metavar="ID", help=f"the Procore {kind.procore_name}'s id")
        _common(one)
        one.set_defaults(handler=cmd_link, kind=name)
        other = unlink_kinds.add_parser(
            name, help=f"unlink a Procore {kind.procore_name} from its Xero {kind.xero_name}"
        )
        side = other.add_mutually_exclusive_group(required=True)
        side.add_argument("--xero", metavar="ID", help=f"the Xero {kind.xero_name}'s id")
        side.add_argument("--procore", metavar="ID", help=f"the Procore {kind.procore_name}'s id")
        _common(other)
        other.set_defaults(handler=cmd_unlink, kind=name)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--by", help="who decided (default TRESTLE_USER or your user name)")
    parser.add_argument("--pair", help="the Procore company / Xero tenant pair (default TRESTLE_PAIR)")


def _context() -> RunContext:
    """Settings, both clients and the link store (a database on an old schema is refused)."""
    from trestle.settings import load_settings

    settings = load_settings()
    settings.require_connections()
    return RunContext(settings)


def unlink_command(kind: str, link: LinkRow) -> str:
    return f"trestle unlink {kind} --xero {link.xero_id}"


def cmd_link(args: argparse.Namespace) -> int:
    kind = KINDS[args.kind]
    by = args.by or default_user()
    procore_id, xero_id = args.procore.strip(), args.xero.strip()
    ctx = _context()
    try:
        for side, found in (
            ("procore", ctx.store.find_link(kind.entity, procore_id=procore_id)),
            ("xero", ctx.store.find_link(kind.entity, xero_id=xero_id)),
        ):
            if found is not None and (found.procore_id, found.xero_id) != (procore_id, xero_id):
                return _refuse(args.kind, kind, found, side)
        try:
            procore_label = kind.procore_lookup(ctx, procore_id)
            xero_label = kind.xero_lookup(ctx, xero_id)
        except LookupFailed as failed:
            print(f"trestle: {failed}; nothing was linked", file=sys.stderr)
            return EXIT_FAILED
        source_is_procore = kind.source_id(procore_id, xero_id) == procore_id
        label = procore_label if source_is_procore else xero_label
        try:
            link = ctx.store.link_manually(kind.entity, procore_id=procore_id, xero_id=xero_id, label=label, by=by)
        except LinkConflict as conflict:  # linked by a run in the meantime
            return _refuse(args.kind, kind, conflict.existing, "procore")
        resolved = ctx.store.resolve_issues(kind.entity, kind.source_id(procore_id, xero_id), kind.resolves)
    finally:
        ctx.close()
    print(
        f"Linked Procore {kind.procore_name} {procore_id} ({procore_label}) and Xero {kind.xero_name} {xero_id} "
        f"({xero_label}), by {link.linked_by}."
    )
    if resolved:
        print(f"{resolved} matching issue(s) on it resolved.")
    print(f"The next {kind.integration.replace('_', '-')} run keeps this link and updates the linked record.")
    return EXIT_OK


def _refuse(name: str, kind: LinkKind, existing: LinkRow, side: str) -> int:
    record = (
        f"Procore {kind.procore_name} {existing.procore_id}"
        if side == "procore"
        else (f"Xero {kind.xero_name} {existing.xero_id}")
    )
    how = f"by {existing.linked_by} (manual)" if existing.origin == "manual" else "by the matcher"
    print(
        f"trestle: {record} is already linked: Procore {kind.procore_name} {existing.procore_id} ⇄ Xero "
        f"{kind.xero_name} {existing.xero_id} ({existing.label or 'no name'}), linked {how}. One record is "
        f"linked once: run `{unlink_command(name, existing)}` first if that link is wrong. Nothing was linked.",
        file=sys.stderr,
    )
    return EXIT_FAILED


def cmd_unlink(args: argparse.Namespace) -> int:
    kind = KINDS[args.kind]
    by = args.by or default_user()
    ctx = _context()
    try:
        procore_id = args.procore.strip() if args.procore else None
        xero_id = args.xero.strip() if args.xero else None
        try:
            removed = ctx.store.unlink(kind.entity, procore_id=procore_id, xero_id=xero_id, by=by)
        except KeyError:
            which = f"Procore {kind.procore_name} {procore_id}" if procore_id else f"Xero {kind.xero_name} {xero_id}"
            print(f"trestle: {which} is not linked; nothing was unlinked", file=sys.stderr)
            return EXIT_FAILED
    finally:
        ctx.close()
    print(
        f"Unlinked Procore {kind.procore_name} {removed.procore_id} and Xero {kind.xero_name} {removed.xero_id} "
        f"({removed.label or 'no name'}), by {by}. The next {kind.integration.replace('_', '-')} run treats the "
        "record as new: it matches it again, or creates it."
    )
    return EXIT_OK


def recent_link_lines(store: LinkStore, now: datetime | None = None) -> list[str]:
    """The manual links and unlinks of the last :data:`REVIEW_DAYS` days, for ``trestle review``."""
    since = (now or datetime.now(UTC)) - timedelta(days=REVIEW_DAYS)
    events = store.link_events(since=since)
    if not events:
        return []
    return [
        f"Manual links and unlinks, last {REVIEW_DAYS} days ({len(events)}):",
        *(f"  {event.describe()}" for event in reversed(events)),
    ]
