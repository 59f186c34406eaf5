"""The chaos suite: after SIGKILLs, 5xx, lost answers, expired tokens and concurrent runs, one clean
run leaves both systems equal to a fault-free install's: no duplicates, nothing missing, every
amount to the cent, every created record linked.

A small version runs with the suite; ``make chaos`` (``TRESTLE_CHAOS=full``) runs the whole matrix.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.sandbox_process import SandboxProcess
from tests.chaos.harness import (
    Books,
    ChaosPlan,
    Install,
    Tally,
    chaos_phase,
    check_links,
    pay_progress_claim_bills,
    reset_with_files,
    strict_violations,
    table,
)
from trestle.integrations import registry

FULL = os.environ.get("TRESTLE_CHAOS") == "full"
WRITERS_BEFORE_PAYMENTS = tuple(name for name in registry() if name != "payments")
"""The writing integrations with work in phase one, in nightly order (payments has its work in phase
two). The order matters: run *n* of a phase is killed at the *n*-th writer's first write, after the
writers before it finished (or recovered) their work; aimed out of order, a kill waits for a writer
that already wrote everything in an earlier run and never lands."""
SEEDS = tuple(range(11, 31)) if FULL else (11,)
"""The full matrix: 20 scenarios, each killing every writing integration once at its writes.
``TRESTLE_CHAOS_SEEDS=11,12`` runs some of them (the per-writer minimum is then one per seed)."""
if os.environ.get("TRESTLE_CHAOS_SEEDS"):
    SEEDS = tuple(int(seed) for seed in os.environ["TRESTLE_CHAOS_SEEDS"].split(","))
BILLS_PLAN = (
    ChaosPlan(kills=len(WRITERS_BEFORE_PAYMENTS), kill_targets=WRITERS_BEFORE_PAYMENTS, token_expiries=2, day_limits=1)
    if FULL
    else ChaosPlan(kills=1, kill_targets=("commitments",), concurrent_pairs=0, day_limits=1)
)
"""Phase one (every integration but payments has work); the small version kills commitments' writes once."""
PAYMENTS_PLAN = (
    ChaosPlan(kills=1, kill_targets=("payments",), token_expiries=1)
    if FULL
    else ChaosPlan(kills=1, kill_targets=("payments",), concurrent_pairs=0, token_expiries=0)
)
"""Phase two, after the accountant paid bills (payments has work)."""
KILLED_PER_SCENARIO = (*BILLS_PLAN.kill_targets, *PAYMENTS_PLAN.kill_targets)
"""Every writer the plans aim at must take its kill in every scenario (all nine in the full matrix)."""
MIN_KILLS_PER_WRITER = len(SEEDS)
MIN_KILLS = len(SEEDS) * len(KILLED_PER_SCENARIO)
RESULTS: list[tuple[str, Tally]] = []

pytestmark = pytest.mark.timeout(7200 if FULL else 900)


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[SandboxProcess]:
    with SandboxProcess(dataset="small", seed=1, rate_limits="off", strict=True) as running:
        yield running


@pytest.fixture(scope="module")
def prefect_api_url(prefect_harness: None) -> str:
    from prefect.settings import PREFECT_API_URL

    return str(PREFECT_API_URL.value())


@pytest.fixture(scope="module")
def reference(sandboxes: SandboxProcess, prefect_api_url: str, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """A fault-free install's books after both phases, and the install itself (for its links)."""
    reset_with_files(sandboxes)
    install = Install(tmp_path_factory.mktemp("reference"), sandboxes, prefect_api_url)
    assert install.run_nightly() in (0, 1)
    pay_progress_claim_bills(install)
    assert install.run_nightly() in (0, 1)
    books = Books(install.sandboxes.env)
    assert strict_violations(sandboxes) == 0, f"strict-mode refusals in the fault-free run: see {sandboxes.log_path}"
    return books, install


@pytest.mark.parametrize("seed", SEEDS)
def test_faults_then_one_clean_run_equal_a_fault_free_run(
    seed: int, sandboxes: SandboxProcess, prefect_api_url: str, reference: tuple, tmp_path: Path
) -> None:
    reference_books, reference_install = reference
    refused_before = strict_violations(sandboxes)
    reset_with_files(sandboxes)
    install = Install(tmp_path / f"chaos-{seed}", sandboxes, prefect_api_url)
    rng, tally, started = random.Random(seed), Tally(), time.monotonic()
    chaos_phase(install, BILLS_PLAN, rng, tally)
    pay_progress_claim_bills(install)
    chaos_phase(install, PAYMENTS_PLAN, rng, tally)

    Books(install.sandboxes.env).compare(reference_books, tally)
    check_links(install, reference_install, tally)
    tally.strict_violations = strict_violations(sandboxes) - refused_before
    tally.seconds = time.monotonic() - started
    RESULTS.append((f"seed {seed}", tally))
    print("\n" + table(RESULTS))
    for detail in tally.details:
        print(f"  seed {seed}: {detail}")
    if seed == SEEDS[-1] and len(RESULTS) == len(SEEDS):
        assert sum(done.kills for _, done in RESULTS) >= MIN_KILLS, "the kills did land"
        landed = sum((done.kills_by_integration for _, done in RESULTS), Counter())
        short = {name: landed[name] for name in KILLED_PER_SCENARIO if landed[name] < MIN_KILLS_PER_WRITER}
        assert not short, f"too few kills at these integrations' writes over the matrix: {short}"
    assert tally.faults_injected > 0
    assert (tally.duplicates, tally.missing, tally.amount_differences, tally.unlinked) == (0, 0, 0, 0), tally.details
    assert tally.pending_intents == 0, "a write was left unfinished after the clean run"
    assert tally.strict_violations == 0, f"requests or answers refused in strict mode: see {sandboxes.log_path}"
    missed = [name for name in KILLED_PER_SCENARIO if not tally.kills_by_integration[name]]
    assert not missed, f"no kill landed at these integrations' writes in seed {seed}: {missed}"
