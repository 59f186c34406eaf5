"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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
POSTGRES_URL = os.environ.get("TRESTLE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _postgres_available() -> str | None:
    """None if PostgreSQL answers at POSTGRES_URL, else the reason it does not."""
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL not reachable at {POSTGRES_URL}: {type(exc).__name__}"
    return None


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
    reason = _postgres_available()
    if reason:
        if os.environ.get("TRESTLE_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    import sqlalchemy

    name = f"trestle_test_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(
        POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    upgrade(engine)
    yield url
    engine.dispose()
    from trestle.tasks.context import _ENGINES

    cached = _ENGINES.pop(url, None)
    if cached is not None:
        cached.dispose()
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


# --------------------------------------------------------------------------- sandboxes
@pytest.fixture(scope="session")
def sandboxes() -> Iterator[Any]:
    """Both simulators over real HTTP for the session (small dataset, limits off by default)."""
    from trestle.sandbox.server import start_sandboxes

    running = start_sandboxes(dataset="small", seed=1, rate_limits="off")
    yield running
    running.stop()


@pytest.fixture
def fresh_sandboxes(sandboxes: Any) -> Any:
    """The session's simulators reset to the seeded data, with faults and limits off."""
    import httpx

    for server in (sandboxes.xero, sandboxes.procore):
        httpx.post(f"{server.url}/_sandbox/reset", json={"dataset": "small", "seed": 1}).raise_for_status()
        httpx.post(f"{server.url}/_sandbox/rate-limits", json={"mode": "off"}).raise_for_status()
    return sandboxes


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
