"""Which projects a per-project stream reads tonight: the changed ones, or all of them in a sweep.

With ``sync.change_feed`` on, an integration that declares ``feed_resources`` asks
:func:`projects_to_read` instead of listing every integrated project. The answer is

- **a full sweep** (every integrated project, as without the feed) on the integration's first run
  with the feed, every ``sync.sweep_every_days``, and whenever the feed may have lost something:
  no hook registered, the hook or one of the integration's triggers missing at Procore, the hook
  unreadable, or a delivery in Procore's history failing, failed or discarded since the last
  sweep — so a missed delivery can never hide a change for longer than ``sweep_every_days``;
- otherwise **only the projects with events** on those resources (or on the project itself, or a
  project link made) received since the integration's feed cursor, less the overlap window —
  leaving out changes Trestle's own Procore app made (``metadata.source_application_id``).

Both cursors (``feed``: when tonight's choice was made; ``feed-sweep``: when the last sweep
started) travel on empty pages the integration yields at the end of its fetch, so they move only
when the run completes, like every other cursor: a crash re-reads, never skips. Feed off,
single-project runs and full refreshes get every integrated project and no cursor pages: nothing
changes for an install that does not enable it.

The feed's health is read once per night (four Procore calls: hooks, triggers, failing and
discarded deliveries) and shared by the night's integrations.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from trestle.clients.errors import TrestleApiError
from trestle.clients.procore_hooks import DeliveryStatus, ProcoreHooks
from trestle.integrations.lookups import PROJECT, Lookups
from trestle.models.tables import Link
from trestle.tasks.engine import Page
from trestle.timeutil import to_utc, utcnow
from trestle.webhooks.store import FeedStore

if TYPE_CHECKING:
    from trestle.tasks.context import RunContext
    from trestle.tasks.engine import Integration

logger = logging.getLogger(__name__)
FEED_STREAM = "feed"
SWEEP_STREAM = "feed-sweep"
FAILURE_STATUSES: tuple[DeliveryStatus, ...] = ("failing", "discarded")


@dataclass
class ProjectScope:
    """The projects a stream reads, and the cursor pages to yield after them."""

    project_ids: list[int]
    sweep: bool
    reason: str
    pages: list[Page] = field(default_factory=list)


@dataclass
class FeedHealth:
    """What Procore says about Trestle's hook tonight."""

    problem: str | None = None
    triggers: set[tuple[str, str]] = field(default_factory=set)
    last_failure: datetime | None = None

    @classmethod
    def of(cls, ctx: RunContext) -> FeedHealth:
        """Tonight's health (read once per night, shared by the night's integrations)."""
        key = f"feed_health:{ctx.settings.pair}"
        health = ctx.shared.get(key)
        if not isinstance(health, FeedHealth):
            health = ctx.shared[key] = cls.read(ctx)
        return health

    @classmethod
    def read(cls, ctx: RunContext) -> FeedHealth:
        """Ask Procore about the hook registered for this pair (never raises: a problem means a sweep)."""
        stored = FeedStore(ctx.store.engine, ctx.settings.pair).hook()
        if stored is None:
            return cls("no hook is registered (run trestle webhooks install)")
        hooks = ProcoreHooks(ctx.procore, stored.namespace)
        try:
            found = next((hook for hook in hooks.hooks() if str(hook.id) == stored.hook_id), None)
            if found is None or found.destination_url != stored.destination_url:
                return cls(f"hook {stored.hook_id} is gone from Procore or points elsewhere")
            triggers = {(trigger.resource_name, trigger.event_type) for trigger in hooks.triggers(found.id)}
            stamps = [
                delivery.started_at
                for status in FAILURE_STATUSES
                for delivery in hooks.deliveries(found.id, status)
                if delivery.started_at is not None
            ]
        except TrestleApiError as exc:
            logger.warning("change feed: could not read the hook: %s", exc)
            return cls(f"the hook could not be read ({type(exc).__name__})")
        return cls(None, triggers, max((to_utc(stamp) for stamp in stamps), default=None))

    def missing(self, resources: Iterable[str]) -> list[str]:
        """The resources with an event type not covered by a trigger."""
        return sorted({resource for resource in resources for kind in EVENTS if (resource, kind) not in self.triggers})


EVENTS = ("create", "update", "delete")


def feed_applies(integration: Integration) -> bool:
    """Whether the feed decides this run's projects (feed on, declared resources, a nightly-style run)."""
    ctx = integration.ctx
    return bool(
        ctx.settings.sync.change_feed
        and type(integration).feed_resources
        and ctx.options.project_ids is None
        and not ctx.options.full_refresh
    )


def projects_to_read(integration: Integration) -> ProjectScope:
    """The integrated projects ``integration`` reads in this run (decided once per run)."""
    ctx = integration.ctx
    key = f"feed_scope:{integration.name}"
    scope = ctx.cache.get(key)
    if isinstance(scope, ProjectScope):
        return scope
    scope = ctx.cache[key] = _decide(integration)
    if feed_applies(integration):
        how = "full sweep" if scope.sweep else "changed projects only"
        logger.info("%s: %s (%s): %d project(s)", integration.name, how, scope.reason, len(scope.project_ids))
    return scope


def _decide(integration: Integration) -> ProjectScope:
    ctx = integration.ctx
    integrated = Lookups.of(ctx).integrated_project_ids()
    if not feed_applies(integration):
        return ProjectScope(integrated, True, "change feed off")
    now = utcnow()
    pages = [Page([], stream=FEED_STREAM, high_water=now)]
    reason = _sweep_reason(integration, now)
    if reason is not None:
        pages.append(Page([], stream=SWEEP_STREAM, high_water=now))
        return ProjectScope(integrated, True, reason, pages)
    since = integration.stream_since(FEED_STREAM)
    assert since is not None  # _sweep_reason asks for a sweep when there is no feed cursor
    feed = FeedStore(ctx.store.engine, ctx.settings.pair)
    own = ctx.settings.procore.client_id
    changed = feed.changed_projects(type(integration).feed_resources, since, own_application=own)
    # Links are made in this database, committed before tonight's choice: no overlap needed.
    cursor = ctx.store.cursor(integration.name, FEED_STREAM)
    changed |= _linked_since(ctx, to_utc(cursor) if cursor else since)
    chosen = [project for project in integrated if project in changed]
    return ProjectScope(chosen, False, "events since the cursor", pages)


def _sweep_reason(integration: Integration, now: datetime) -> str | None:
    ctx = integration.ctx
    last_sweep = ctx.store.cursor(integration.name, SWEEP_STREAM)
    if last_sweep is None or ctx.store.cursor(integration.name, FEED_STREAM) is None:
        return "first run with the change feed"
    if now - to_utc(last_sweep) >= timedelta(days=ctx.settings.sync.sweep_every_days):
        return f"the safety sweep (due every {ctx.settings.sync.sweep_every_days} days)"
    health = FeedHealth.of(ctx)
    if health.problem:
        return health.problem
    missing = health.missing(type(integration).feed_resources)
    if missing:
        return f"no trigger for {', '.join(missing)}"
    overlap = timedelta(minutes=ctx.settings.sync.overlap_minutes)
    if health.last_failure is not None and health.last_failure >= to_utc(last_sweep) - overlap:
        return "deliveries failed since the last sweep"
    return None


def _linked_since(ctx: RunContext, since: datetime) -> set[int]:
    """Projects linked (by the matcher or by hand) at or after ``since``: read in full at once."""
    with ctx.store.session() as session:
        rows = session.execute(
            select(Link.procore_id).where(
                Link.pair == ctx.settings.pair, Link.entity == PROJECT, Link.created_at >= since
            )
        ).scalars()
        return {int(value) for value in rows if str(value).isdigit()}
