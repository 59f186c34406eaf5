"""Throwaway PostgreSQL databases on the local server, for tests that need a real one.

PostgreSQL tests skip when no server answers, unless TRESTLE_REQUIRE_POSTGRES=1 (CI), where
that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy

POSTGRES_URL = os.environ.get("TRESTLE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _admin_engine() -> sqlalchemy.Engine:
    return sqlalchemy.create_engine(
        POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )


def require_postgres() -> None:
    """Skip (or, when CI requires PostgreSQL, fail) unless a server answers at POSTGRES_URL."""
    try:
        engine = _admin_engine()
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:
        reason = f"PostgreSQL not reachable at {POSTGRES_URL}: {type(exc).__name__}"
        if os.environ.get("TRESTLE_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


@contextmanager
def temporary_database(prefix: str = "trestle_test") -> Iterator[str]:
    """A new, empty database for the block: yields its ``postgresql://`` URL, drops it after."""
    require_postgres()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine()
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
