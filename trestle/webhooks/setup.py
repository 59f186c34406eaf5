"""``trestle webhooks install|status|remove``: Trestle's hook and triggers at Procore, per pair.

``install`` is idempotent: it finds the pair's hook by namespace and destination (or makes it),
gives it a fresh secret Authorization header (kept in Trestle only as a hash), and makes the
triggers the integrations declare (``feed_resources`` × create/update/delete), deleting the ones
no longer needed. A trigger Procore refuses is reported; the stream needing it then keeps
polling every project (the feed reports it missing), so nothing is lost. After a lost answer to
the hook's creation, the hooks are listed again before anything is resent.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from trestle.clients.errors import FatalApiError, OutcomeUnknownError
from trestle.clients.procore_hooks import Hook, ProcoreHooks
from trestle.integrations import registry
from trestle.webhooks.feed import EVENTS, FeedHealth
from trestle.webhooks.receiver import delivery_path
from trestle.webhooks.store import FeedStore

if TYPE_CHECKING:
    from trestle.tasks.context import RunContext


def wanted_triggers(integrations: list[str] | None = None) -> list[tuple[str, str]]:
    """(resource, event type) for every resource the (given, else enabled) integrations read per project."""
    names = set(integrations) if integrations is not None else None
    resources = {
        resource
        for name, cls in registry().items()
        if names is None or name in names
        for resource in cls.feed_resources
    }
    return [(resource, event) for resource in sorted(resources) for event in EVENTS]


def destination_for(ctx: RunContext, url: str | None = None) -> str:
    """Where deliveries go: ``url``, else the portal's public address and the pair's receiver path."""
    return url or ctx.settings.portal.base_url.rstrip("/") + delivery_path(ctx.settings.pair)


@dataclass
class InstallResult:
    """What ``install`` did."""

    hook_id: int
    created: bool
    destination_url: str
    added: list[tuple[str, str]] = field(default_factory=list)
    removed: list[tuple[str, str]] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # "resource/event" -> Procore's reason


def _find(hooks: ProcoreHooks, url: str) -> Hook | None:
    return next((hook for hook in hooks.hooks() if hook.destination_url == url), None)


def install(ctx: RunContext, url: str | None = None) -> InstallResult:
    """Register (or refresh) the pair's hook and its triggers."""
    destination = destination_for(ctx, url)
    hooks = ProcoreHooks(ctx.procore, ctx.settings.sync.feed_namespace)
    header = "Bearer " + secrets.token_urlsafe(32)
    headers = {"Authorization": header}
    existing = _find(hooks, destination)
    created = existing is None
    if existing is None:
        try:
            hook = hooks.create_hook(destination, headers)
        except OutcomeUnknownError:
            found = _find(hooks, destination)  # the create may have landed: never send it blind again
            if found is None:
                hook = hooks.create_hook(destination, headers)
            else:
                hook = hooks.update_hook(found.id, destination, headers)
    else:
        hook = hooks.update_hook(existing.id, destination, headers)
    FeedStore(ctx.store.engine, ctx.settings.pair).save_hook(str(hook.id), hooks.namespace, destination, header)
    result = InstallResult(hook.id, created, destination)
    wanted = wanted_triggers(ctx.settings.sync.integrations)
    present = {(trigger.resource_name, trigger.event_type): trigger for trigger in hooks.triggers(hook.id)}
    for key in wanted:
        if key in present:
            continue
        try:
            hooks.create_trigger(hook.id, *key)
            result.added.append(key)
        except FatalApiError as exc:
            result.refused["/".join(key)] = str(exc)
    for key, trigger in sorted(present.items()):
        if key not in wanted:
            hooks.delete_trigger(hook.id, trigger.id)
            result.removed.append(key)
    return result


def status_lines(ctx: RunContext) -> list[str]:
    """The hook, its triggers, the last delivery received and Procore's failing deliveries."""
    store = FeedStore(ctx.store.engine, ctx.settings.pair)
    stored = store.hook()
    lines = [
        f"pair {ctx.settings.pair}: change feed {'on' if ctx.settings.sync.change_feed else 'off'} "
        f"(TRESTLE_SYNC_CHANGE_FEED), full sweep every {ctx.settings.sync.sweep_every_days} days"
    ]
    if stored is None:
        return [*lines, "no hook registered: run trestle webhooks install"]
    lines.append(f"hook {stored.hook_id} (namespace {stored.namespace}) → {stored.destination_url}")
    summary = store.summary()
    last = summary.last_received_at.isoformat(timespec="seconds") if summary.last_received_at else "never"
    lines.append(f"events received: {summary.count}, last at {last}")
    health = FeedHealth.read(ctx)
    if health.problem:
        return [*lines, f"unhealthy: {health.problem} (tonight's per-project streams sweep every project)"]
    wanted = wanted_triggers(ctx.settings.sync.integrations)
    missing = [f"{r}/{e}" for r, e in wanted if (r, e) not in health.triggers]
    lines.append(f"triggers: {len(health.triggers)} ({'missing ' + ', '.join(missing) if missing else 'all present'})")
    failed = health.last_failure.isoformat(timespec="seconds") if health.last_failure else "none"
    lines.append(f"failing or discarded deliveries at Procore: last at {failed}")
    return lines


def remove(ctx: RunContext) -> str:
    """Delete the pair's hook at Procore (with its triggers) and forget it."""
    store = FeedStore(ctx.store.engine, ctx.settings.pair)
    stored = store.hook()
    namespace = stored.namespace if stored else ctx.settings.sync.feed_namespace
    hooks = ProcoreHooks(ctx.procore, namespace)
    url = stored.destination_url if stored else destination_for(ctx)
    hook_id = stored.hook_id if stored else None
    found = next((h for h in hooks.hooks() if str(h.id) == hook_id or h.destination_url == url), None)
    if found is not None:
        hooks.delete_hook(found.id)
    store.forget_hook()
    return f"hook {found.id} removed" if found else "no hook at Procore; nothing to remove"
