"""Procore webhooks in the sandbox: hooks, triggers, events made from changes, asynchronous deliveries.

Procore's webhooks (docs/FIDELITY.md, "Webhooks") are not in the OpenAPI extract; this module
follows the developer documentation. A *hook* ties a company (or one project) to a destination
URL and headers under a *namespace*; its *triggers* name a resource and an event type. When a
record a trigger covers is created, updated or deleted, an *event* (the legacy v2.0 payload: id,
ulid, timestamp, resource_name, resource_id, event_type, company_id, project_id, user_id,
api_version, metadata) is queued for the hook and POSTed to its destination with its headers.

Changes are found by comparing each table's ``(updated_at, deleted_at)`` with the snapshot taken
after the previous write (:meth:`WebhookHub.detect`), so every way a record changes — the REST
API, sync actions, the ``/_sandbox`` control routes — makes events, and nothing is scanned while
no hook exists.

Deliveries are asynchronous and in order per hook. A failure (no connection, a non-2xx answer, no
answer within 5 s) pauses the hook's queue and retries the same event with exponential backoff
from 1 s up to 1 h; after the retry window (24 h, as documented; shorter through
``POST /_sandbox/webhooks``) the queued events are marked ``failed`` and dropped, and the next new
event starts afresh. Every attempt is in the hook's delivery history with its outcome (``ok``,
``retried``, ``failed``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from .state import ProcoreState, Record

#: What the sandbox's tables are called as webhook resources, and which event types each offers
#: (company-level resources first). Names and event types as a company's resource list shows them.
CREATE_UPDATE = ("create", "update")
ALL_EVENTS = ("create", "update", "delete")
RESOURCES: dict[str, tuple[str, ...]] = {
    "Projects": CREATE_UPDATE,
    "Company Vendors": CREATE_UPDATE,
    "Standard Cost Codes": ALL_EVENTS,
    "Cost Codes": ALL_EVENTS,
    "Work Order Contracts": ALL_EVENTS,
    "Purchase Order Contracts": ALL_EVENTS,
    "Change Order Packages": ALL_EVENTS,
    "Requisitions": ALL_EVENTS,
    "Contract Payments": ALL_EVENTS,
    "Direct Costs": ALL_EVENTS,
}
COMPANY_RESOURCES = frozenset({"Projects", "Company Vendors", "Standard Cost Codes"})
_TABLES = (
    "projects",
    "vendors",
    "standard_cost_codes",
    "cost_codes",
    "commitments",
    "change_orders",
    "requisitions",
    "contract_payments",
    "direct_costs",
)
_COMMITMENT_RESOURCES = {
    "WorkOrderContract": "Work Order Contracts",
    "PurchaseOrderContract": "Purchase Order Contracts",
}
_SIMPLE = {
    "projects": "Projects",
    "vendors": "Company Vendors",
    "standard_cost_codes": "Standard Cost Codes",
    "cost_codes": "Cost Codes",
    "change_orders": "Change Order Packages",
    "requisitions": "Requisitions",
    "contract_payments": "Contract Payments",
    "direct_costs": "Direct Costs",
}
API_VERSIONS = ("v2", "v2.0", "v3.0")
DELIVERY_TIMEOUT = 5.0
BACKOFF_START, BACKOFF_MAX = 1.0, 3600.0
RETRY_WINDOW = 24 * 3600.0
RECENT_SECONDS = 3
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ulid(now: float | None = None) -> str:
    """A ULID: 48 bits of milliseconds and 80 random bits, Crockford base32 (26 characters)."""
    millis = int((time.time() if now is None else now) * 1000)
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def resource_of(table: str, record: Record) -> str:
    """The webhook resource name of a record of ``table``."""
    if table == "commitments":
        return _COMMITMENT_RESOURCES[str(record.get("type"))]
    return _SIMPLE[table]


def _stamp(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


@dataclass(frozen=True)
class Snap:
    """What a change is judged by, per record: its stamps, and where its events go."""

    updated: str
    content: int  # a hash of the record while it is recently stamped, else 0 (unknown)
    deleted: str | None
    project_id: Any
    resource: str

    def changed_to(self, later: Snap) -> bool:
        """Whether the record changed between this snapshot and ``later``."""
        if (self.updated, self.deleted) != (later.updated, later.deleted):
            return True
        return bool(self.content and later.content and self.content != later.content)


@dataclass
class HookQueue:
    """One hook's pending events and retry state."""

    pending: deque[Record] = field(default_factory=deque)
    failing_since: float | None = None
    retry_at: float = 0.0
    next_delay: float = BACKOFF_START


class WebhookHub:
    """Every hook, trigger and delivery of one sandbox, and the task that delivers."""

    def __init__(self) -> None:
        self.hooks: dict[int, Record] = {}
        self.triggers: dict[int, Record] = {}
        self.deliveries: list[Record] = []
        self.queues: dict[int, HookQueue] = {}
        self.retry_window = RETRY_WINDOW
        self.backoff_start = BACKOFF_START
        self._snapshot: dict[tuple[str, int], Snap] | None = None
        self._next_id = 1
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def new_id(self) -> int:
        self._next_id += 1
        return 900_000_000 + self._next_id

    # -- changes → events ----------------------------------------------------------------------

    @staticmethod
    def _take(state: ProcoreState) -> dict[tuple[str, int], Snap]:
        # Stamps have whole seconds, so a record stamped within the last seconds may have changed
        # again under the same stamp: those few are compared by content as well.
        recent = state.now() - timedelta(seconds=RECENT_SECONDS)
        snapshot: dict[tuple[str, int], Snap] = {}
        for table in _TABLES:
            for record_id, record in getattr(state, table).items():
                deleted = record.get("deleted_at")
                project_id = record_id if table == "projects" else record.get("project_id")
                updated = record.get("updated_at")
                content = hash(repr(record)) if not isinstance(updated, datetime) or updated >= recent else 0
                snapshot[(table, record_id)] = Snap(
                    _stamp(updated),
                    content,
                    None if deleted is None else str(deleted),
                    project_id,
                    resource_of(table, record),
                )
        return snapshot

    def start_watching(self, state: ProcoreState) -> None:
        """Take the first snapshot (when the first hook is made): later writes are compared with it."""
        if self._snapshot is None:
            self._snapshot = self._take(state)

    def forget(self) -> None:
        """Drop hooks, triggers, history and snapshot (the sandbox's data was reset)."""
        self.hooks.clear()
        self.triggers.clear()
        self.deliveries.clear()
        self.queues.clear()
        self._snapshot = None
        self.retry_window, self.backoff_start = RETRY_WINDOW, BACKOFF_START

    def detect(self, state: ProcoreState, application: str | None = None) -> None:
        """Queue an event per record created, updated or deleted since the last snapshot.

        ``application`` (the OAuth client of the request that made the changes, None for the web
        app) is the events' ``metadata.source_application_id``.
        """
        if self._snapshot is None or not self.hooks:
            return
        now = self._take(state)
        before = self._snapshot
        self._snapshot = now
        for key, snap in now.items():
            old = before.get(key)
            if old is not None and not old.changed_to(snap):
                continue
            if old is None:
                event_type = "delete" if snap.deleted else "create"
            else:
                event_type = "delete" if snap.deleted and not old.deleted else "update"
            self._emit(state, snap, key[1], event_type, application)
        for key in before.keys() - now.keys():  # removed outright (the web app's delete)
            self._emit(state, before[key], key[1], "delete", application)

    def _emit(self, state: ProcoreState, snap: Snap, resource_id: int, event_type: str, app: str | None) -> None:
        if event_type not in RESOURCES[snap.resource]:
            return
        for hook in self.hooks.values():
            scope = hook.get("owned_by_project_id")
            if scope is not None and scope != snap.project_id:
                continue
            if any(
                trigger["webhook_hook_id"] == hook["id"]
                and trigger["resource_name"] == snap.resource
                and trigger["event_type"] == event_type
                for trigger in self.triggers.values()
            ):
                event = self._event(state, snap.resource, resource_id, event_type, snap.project_id)
                event["metadata"]["source_application_id"] = app
                self._enqueue(hook, event)

    def _event(self, state: ProcoreState, resource: str, resource_id: int, event_type: str, project_id: Any) -> Record:
        user_id = state.me.get("id")
        return {
            "id": self.new_id(),
            "ulid": new_ulid(),
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "metadata": {
                "source_user_id": user_id,
                "source_project_id": project_id,
                "source_operation_id": None,
                "source_company_id": state.company_id,
                "source_application_id": None,
            },
            "user_id": user_id,
            "company_id": state.company_id,
            "project_id": project_id,
            "api_version": "v2.0",
            "event_type": event_type,
            "resource_name": resource,
            "resource_id": resource_id,
        }

    # -- delivery ------------------------------------------------------------------------------

    def _enqueue(self, hook: Record, event: Record) -> None:
        self.queues.setdefault(hook["id"], HookQueue(next_delay=self.backoff_start)).pending.append(event)
        self._ensure_worker()
        assert self._wake is not None
        self._wake.set()

    def _ensure_worker(self) -> None:
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=DELIVERY_TIMEOUT) as client:
            while True:
                assert self._wake is not None
                self._wake.clear()
                wait = await self._deliver_due(client)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def _deliver_due(self, client: httpx.AsyncClient) -> float | None:
        """Deliver every queue that is not waiting out a backoff; the seconds until the next retry."""
        wait: float | None = None
        for hook_id, queue in list(self.queues.items()):
            hook = self.hooks.get(hook_id)
            if hook is None:
                del self.queues[hook_id]
                continue
            while queue.pending:
                left = queue.retry_at - time.monotonic()
                if left <= 0:
                    left = await self._attempt(client, hook, queue) or 0
                if left > 0:
                    wait = left if wait is None else min(wait, left)
                    break
        return wait

    async def _attempt(self, client: httpx.AsyncClient, hook: Record, queue: HookQueue) -> float | None:
        """POST the queue's first event once; None when it went through, else the backoff to wait."""
        event = queue.pending[0]
        started = datetime.now(UTC)
        record: Record = {
            "id": self.new_id(),
            "webhook_hook_id": hook["id"],
            "event_id": event["id"],
            "event": event,
            "started_at": started,
            "response_status": None,
            "response_headers": {},
            "response_body": None,
            "response_error": None,
        }
        headers = {"Content-Type": "application/json", **(hook.get("destination_headers") or {})}
        try:
            response = await client.post(hook["destination_url"], content=json.dumps(event), headers=headers)
            record.update(
                response_status=f"{response.status_code} {response.reason_phrase}".strip(),
                response_headers=dict(response.headers),
                response_body=response.text[:2000],
            )
            ok = 200 <= response.status_code < 300
        except httpx.HTTPError as exc:
            record["response_error"] = f"{type(exc).__name__}: {exc}"[:500]
            ok = False
        record["completed_at"] = datetime.now(UTC)
        if ok:
            record["outcome"] = "ok"
            self.deliveries.append(record)
            queue.pending.popleft()
            queue.failing_since, queue.next_delay, queue.retry_at = None, self.backoff_start, 0.0
            return None
        now = time.monotonic()
        if queue.failing_since is None:
            queue.failing_since = now
        if now - queue.failing_since >= self.retry_window:
            record["outcome"] = "failed"
            self.deliveries.append(record)
            for dropped in list(queue.pending)[1:]:
                self.deliveries.append({**record, "id": self.new_id(), "event_id": dropped["id"], "event": dropped})
            queue.pending.clear()
            queue.failing_since, queue.next_delay, queue.retry_at = None, self.backoff_start, 0.0
            return None
        record["outcome"] = "retried"
        self.deliveries.append(record)
        delay = queue.next_delay
        queue.next_delay = min(queue.next_delay * 2, BACKOFF_MAX)
        queue.retry_at = now + delay
        return delay

    async def stop(self) -> None:
        """Cancel the delivery task (the sandbox is shutting down)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
