"""Shared API budgets as Prefect global concurrency limits (against a real Prefect API)."""

from __future__ import annotations

import time

import pytest
from prefect.client.orchestration import get_client

from trestle.settings import TrestleSettings
from trestle.tasks.limits import (
    SharedLimit,
    ensure_shared_limits,
    shared_limits_enabled,
    shared_limits_for,
    slot_taker,
)


@pytest.mark.parametrize("calls", [1, 2, 55, 60, 600, 10_000])
def test_no_sixty_second_window_admits_more_than_the_configured_calls(calls: int) -> None:
    limit = SharedLimit("trestle-xero-x", calls)
    assert 1 <= limit.capacity <= 5
    assert limit.capacity + 60 * limit.slot_decay_per_second == pytest.approx(calls, abs=0.001)


def test_budgets_are_per_tenant_and_per_procore_app_without_the_client_id() -> None:
    settings = TrestleSettings(
        procore={"client_id": "app-client-id", "company_id": 1},
        xero={"tenant_id": "ABC-123"},
        sync={"xero_calls_per_minute": 30, "shared_limits": "on"},
    )
    limits = shared_limits_for(settings)
    assert limits["xero"] == SharedLimit("trestle-xero-abc-123", 30)
    assert limits["procore"].name.startswith("trestle-procore-") and "app-client-id" not in limits["procore"].name
    assert shared_limits_enabled(settings)
    assert not shared_limits_enabled(
        settings.model_copy(update={"sync": settings.sync.model_copy(update={"shared_limits": "off"})})
    )


def test_limits_are_created_corrected_and_drawn_on(prefect_harness: None) -> None:
    name = f"trestle-xero-test-{time.monotonic_ns()}"
    ensure_shared_limits({"xero": SharedLimit(name, 10)})
    ensure_shared_limits({"xero": SharedLimit(name, 10)})  # idempotent
    with get_client(sync_client=True) as client:
        created = client.read_global_concurrency_limit_by_name(name)
        assert (created.limit, created.slot_decay_per_second) == (5, pytest.approx(5 / 60, abs=1e-6))
    ensure_shared_limits({"xero": SharedLimit(name, 120)})
    take = slot_taker(SharedLimit(name, 120))
    take()
    take()
    with get_client(sync_client=True) as client:
        corrected = client.read_global_concurrency_limit_by_name(name)
    assert (corrected.limit, corrected.slot_decay_per_second) == (5, pytest.approx(115 / 60, abs=1e-6))
    assert corrected.active_slots >= 1, "taking slots occupies the shared budget"
