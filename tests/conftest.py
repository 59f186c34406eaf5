"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.postgres import temporary_database

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = Path(os.environ.get("TRESTLE_REFERENCE_DIR", ROOT.parent / "shared" / "reference"))


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """``../shared/reference`` (the official API specs and notes).

    A user's own clone may not have it, so tests that need it skip; on CI (``CI=true``) it
    must be there and its absence fails the run.
    """
    if not REFERENCE_DIR.is_dir():
        message = f"API reference folder not found at {REFERENCE_DIR}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (required when CI=true)")
        pytest.skip(message)
    return REFERENCE_DIR


# --------------------------------------------------------------------------- databases
@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database per test: a SQLite file, and a new PostgreSQL database.

    PostgreSQL tests skip when no server answers, unless TRESTLE_REQUIRE_POSTGRES=1 (CI),
    where that is a failure.
    """
    from trestle.db import make_engine, upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'trestle.db'}"
        upgrade(make_engine(url))
        yield url
        return
    with temporary_database() as url:
        engine = make_engine(url)
        upgrade(engine)
        yield url
        engine.dispose()
        from trestle.tasks.context import _ENGINES

        cached = _ENGINES.pop(url, None)
        if cached is not None:
            cached.dispose()


# --------------------------------------------------------------------------- sandboxes
@pytest.fixture(scope="session")
def sandboxes() -> Iterator[Any]:
    """Both simulators over real HTTP for the session (small dataset, limits off by default)."""
    from trestle.sandbox.server import start_sandboxes

    running = start_sandboxes(dataset="small", seed=1, rate_limits="off")
    yield running
    running.stop()


@pytest.fixture
def fresh_sandboxes(sandboxes: Any) -> Iterator[Any]:
    """The session's simulators reset to the seeded data, with faults and limits off.

    A test during which the Xero sandbox saw a strict-mode violation fails, even if the client
    swallowed the 400/500 it got (docs/FIDELITY.md).
    """
    import httpx

    for server in (sandboxes.xero, sandboxes.procore):
        httpx.post(f"{server.url}/_sandbox/reset", json={"dataset": "small", "seed": 1}).raise_for_status()
        httpx.post(f"{server.url}/_sandbox/rate-limits", json={"mode": "off"}).raise_for_status()
    xero_violations = sandboxes.xero.server.config.app.state.strict_violations
    xero_violations.clear()
    yield sandboxes
    assert not xero_violations, f"Xero sandbox strict-mode violations: {xero_violations}"


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A temporary Prefect API for the session (flows, task runs and artifacts are real)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture
def trestle_env(
    fresh_sandboxes: Any, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_harness: None
) -> dict[str, str]:
    """TRESTLE_* settings pointing at the sandboxes and a fresh database (as a user would set them)."""
    for key in list(os.environ):
        if key.startswith("TRESTLE_") and key not in ("TRESTLE_TEST_POSTGRES_URL", "TRESTLE_REQUIRE_POSTGRES"):
            monkeypatch.delenv(key)
    env = dict(fresh_sandboxes.env)
    env["TRESTLE_DATABASE_URL"] = database_url
    env["TRESTLE_HOME"] = str(tmp_path / "home")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env
