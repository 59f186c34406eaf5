"""API budgets shared by every process of an install, as Prefect global concurrency limits.

The clients pace themselves from the APIs' rate-limit headers, but two workers running flows
for the same Xero tenant (or the same Procore app) each see only their own calls until the
answers come back. With a Prefect server, each request first takes a slot from a global
concurrency limit used as a rate limit, so every worker draws on one budget:

* ``trestle-xero-<tenant id>``: ``sync.xero_calls_per_minute`` per tenant (Xero allows 60);
* ``trestle-procore-<hash of client id and company id>``: ``sync.procore_calls_per_minute`` per
  Procore app and company (a service account's hourly limit is counted per company when requests
  name the company, as Trestle's always do; the client id is hashed to keep it out of the UI).

A token bucket lets ``capacity`` calls through at once and refills at ``slot_decay_per_second``;
any 60-second window then admits at most ``capacity + 60 × decay`` calls, which is set to the
configured calls per minute. The limits are created, or corrected, when a run starts.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from trestle.settings import TrestleSettings

logger = logging.getLogger("trestle.limits")

BURST = 5  # Xero's concurrent-call limit per tenant; also a sensible burst for Procore


@dataclass(frozen=True)
class SharedLimit:
    """One shared budget: its Prefect limit name and calls allowed in any minute."""

    name: str
    calls_per_minute: int

    @property
    def capacity(self) -> int:
        return max(1, min(BURST, self.calls_per_minute // 2))

    @property
    def slot_decay_per_second(self) -> float:
        return round((self.calls_per_minute - self.capacity) / 60.0, 6)


def shared_limits_enabled(settings: TrestleSettings) -> bool:
    """``on``/``off`` as configured; ``auto`` means on when a Prefect server is configured."""
    mode = settings.sync.shared_limits
    if mode != "auto":
        return mode == "on"
    from prefect.settings import get_current_settings

    return bool(get_current_settings().api.url)


def shared_limits_for(settings: TrestleSettings) -> dict[str, SharedLimit]:
    """The budgets this pair's calls draw on, by system: per Xero tenant, per Procore app and company."""
    app_and_company = f"{settings.procore.client_id or ''}/{settings.procore.company_id or ''}"
    procore_app = hashlib.sha256(app_and_company.encode()).hexdigest()[:12]
    tenant = (settings.xero.tenant_id or "none").lower()
    return {
        "xero": SharedLimit(f"trestle-xero-{tenant}", settings.sync.xero_calls_per_minute),
        "procore": SharedLimit(f"trestle-procore-{procore_app}", settings.sync.procore_calls_per_minute),
    }


# Limits this process has already made sure of: the nightly run's integrations share one process and
# would otherwise each read them again.
_ENSURED: set[SharedLimit] = set()


def ensure_shared_limits(limits: dict[str, SharedLimit]) -> None:
    """Create each limit on the Prefect server, or correct its size, so runs can take slots."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    missing = [limit for limit in limits.values() if limit not in _ENSURED]
    if not missing:
        return
    with get_client(sync_client=True) as client:
        for limit in missing:
            try:
                existing = client.read_global_concurrency_limit_by_name(limit.name)
            except ObjectNotFound:
                try:
                    client.create_global_concurrency_limit(
                        GlobalConcurrencyLimitCreate(
                            name=limit.name,
                            limit=limit.capacity,
                            slot_decay_per_second=limit.slot_decay_per_second,
                            active=True,
                        )
                    )
                    logger.info("created shared limit %s (%s calls/min)", limit.name, limit.calls_per_minute)
                except ObjectAlreadyExists:  # another worker created it first
                    pass
                continue
            if existing.limit != limit.capacity or existing.slot_decay_per_second != limit.slot_decay_per_second:
                client.update_global_concurrency_limit(
                    limit.name,
                    GlobalConcurrencyLimitUpdate(
                        limit=limit.capacity, slot_decay_per_second=limit.slot_decay_per_second
                    ),
                )
    _ENSURED.update(missing)


def slot_taker(limit: SharedLimit) -> Callable[[], None]:
    """A function that blocks until ``limit`` admits one more call."""
    from prefect.concurrency.sync import rate_limit

    def take_slot() -> None:
        rate_limit(limit.name, occupy=1)

    return take_slot
