"""The run lease (one run per pair and integration) on SQLite and PostgreSQL: atomic, expiring, taken over."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from datetime import timedelta

import pytest

from trestle.db import make_engine
from trestle.models.lease import LeaseLost, LockHeld
from trestle.models.store import LinkStore

ROUNDS = 25
CONTENDERS = 4
TTL = timedelta(minutes=10)


def test_runs_started_together_get_exactly_one_lease(database_url: str) -> None:
    """Contenders released by one barrier, round after round: each round has exactly one winner."""
    stores = [LinkStore(make_engine(database_url), "default") for _ in range(CONTENDERS)]
    barrier = threading.Barrier(CONTENDERS)
    winners: dict[int, list[str]] = {round_number: [] for round_number in range(ROUNDS)}
    errors: list[BaseException] = []

    def contend(index: int) -> None:
        store = stores[index]
        for round_number in range(ROUNDS):
            holder = f"contender-{index}-round-{round_number}"
            barrier.wait()
            try:
                if store.try_lock("integration:vendors", holder, TTL):
                    winners[round_number].append(holder)
            except BaseException as exc:  # a failure must fail the test, not vanish with the thread
                errors.append(exc)
            barrier.wait()  # everyone has tried; the winner lets go before the next round
            if winners[round_number] == [holder]:
                store.release_lock("integration:vendors", holder)
            barrier.wait()

    threads = [threading.Thread(target=contend, args=(index,)) for index in range(CONTENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert all(len(round_winners) == 1 for round_winners in winners.values()), winners


def test_a_second_run_is_told_which_run_holds_the_pair(database_url: str) -> None:
    store = LinkStore(make_engine(database_url), "default")
    with store.lock("integration:payments") as holder:
        with pytest.raises(LockHeld) as held, store.lock("integration:payments", wait=0):
            pass
        assert holder in str(held.value) and "'default'" in str(held.value)
    with store.lock("integration:payments", wait=0) as second:  # released on exit: free again
        assert second != holder


def test_an_expired_lease_is_taken_over_and_its_old_holder_stops(database_url: str) -> None:
    store = LinkStore(make_engine(database_url), "default")
    assert store.try_lock("integration:commitments", "slow-run", timedelta(seconds=-1))  # already run out
    assert store.try_lock("integration:commitments", "next-run", TTL), "an expired lease is free to take"
    assert not store.try_lock("integration:commitments", "third-run", TTL), "a live lease is not"
    with pytest.raises(LeaseLost, match="next-run"):
        store.renew_lock("integration:commitments", "slow-run", TTL)
    store.renew_lock("integration:commitments", "next-run", TTL)  # the new holder renews quietly


def test_a_dead_holders_lease_is_taken_over_at_once(database_url: str) -> None:
    killed = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    killed.kill()
    killed.wait()
    store = LinkStore(make_engine(database_url), "default")
    dead_holder = f"{socket.gethostname()}:{killed.pid}:killed"
    assert store.try_lock("integration:projects", dead_holder, TTL)
    assert store.try_lock("integration:projects", "after-the-kill", TTL), "a killed run does not block the pair"
    assert store.lock_holder("integration:projects")[0] == "after-the-kill"  # type: ignore[index]


def test_leases_are_per_pair_and_per_integration(database_url: str) -> None:
    engine = make_engine(database_url)
    first, other_pair = LinkStore(engine, "default"), LinkStore(engine, "second")
    assert first.try_lock("integration:vendors", "a", TTL)
    assert first.try_lock("integration:projects", "b", TTL), "another integration of the same pair"
    assert other_pair.try_lock("integration:vendors", "c", TTL), "the same integration of another pair"
    assert not first.try_lock("integration:vendors", "d", TTL)
