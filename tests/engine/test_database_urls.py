"""Database URLs keep their passwords (``%`` and ``@`` included); migration 0002 encrypts old token rows.

PostgreSQL here trusts 127.0.0.1, so a wrong password would not be noticed by the server: the
tests assert that the password psycopg was handed is the role's, and that migrations and a
store round trip work through that URL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import URL, text
from sqlalchemy.engine import make_url

from tests.postgres import _admin_engine, temporary_database
from trestle.crypto import TokenCipher, new_key
from trestle.db import current_revision, head_revision, make_engine, upgrade
from trestle.models.store import LinkStore
from trestle.models.tokens import DatabaseTokenStore

PASSWORD = "p%40ss:w@rd/100%"  # %, @, : and / all need quoting in a URL


@pytest.fixture
def password_role_url() -> Iterator[str]:
    """A throwaway database owned by a throwaway role whose password needs quoting."""
    with temporary_database() as admin_url:
        role = f"trestle_role_{uuid.uuid4().hex[:10]}"
        database = make_url(admin_url).database
        admin = _admin_engine()
        with admin.connect() as connection:
            quoted = PASSWORD.replace("'", "''").replace("%", "%%")  # psycopg reads % as a placeholder
            connection.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD '{quoted}'")
            connection.exec_driver_sql(f'ALTER DATABASE "{database}" OWNER TO {role}')
        parsed = make_url(admin_url)
        url = URL.create("postgresql", role, PASSWORD, parsed.host, parsed.port, database)
        try:
            yield url.render_as_string(hide_password=False)  # as a user would write it: quoted
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(
                    f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'"
                )
            admin.dispose()
            # the database (owned by the role) is dropped by temporary_database; then the role
            _drop_role_later.append(role)


_drop_role_later: list[str] = []


@pytest.fixture(autouse=True)
def _drop_roles() -> Iterator[None]:
    yield
    if not _drop_role_later:
        return
    admin = _admin_engine()
    with admin.connect() as connection:
        while _drop_role_later:
            connection.exec_driver_sql(f"DROP ROLE IF EXISTS {_drop_role_later.pop()}")
    admin.dispose()


def test_a_postgres_password_with_percent_and_at_reaches_psycopg(password_role_url: str) -> None:
    assert "%25" in password_role_url and "%40" in password_role_url, "the URL is quoted as a user writes it"
    engine = make_engine(password_role_url)
    assert engine.url.password == PASSWORD
    assert engine.url.drivername == "postgresql+psycopg"
    with engine.connect() as connection:
        assert connection.connection.dbapi_connection.info.password == PASSWORD
        assert connection.execute(text("SELECT current_user")).scalar_one() == make_url(password_role_url).username

    before, after = upgrade(engine)  # Alembic's config must not choke on the % signs
    assert (before, after) == (None, head_revision())
    tokens = DatabaseTokenStore(LinkStore(engine, "acme"), TokenCipher([new_key()]))
    tokens.reset("procore", "refresh-token-through-a-password-url")
    loaded = tokens.load("procore")
    assert loaded is not None and loaded.refresh_token == "refresh-token-through-a-password-url"
    engine.dispose()


def test_engine_errors_show_neither_password_nor_parameters(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'trestle.db'}")
    upgrade(engine)
    secret = "REFRESH-never-in-an-error-1234"
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TRIGGER refuse BEFORE INSERT ON oauth_tokens BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    tokens = DatabaseTokenStore(LinkStore(engine, "acme"), TokenCipher([new_key()]))
    with pytest.raises(Exception) as raised:
        tokens.store.save_token("procore", access_token=secret, refresh_token=secret, expires_at=None, scope=None)
    assert "refused" in str(raised.value)
    assert secret not in str(raised.value) and "hidden due to hide_parameters" in str(raised.value)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_migration_0002_encrypts_existing_plain_text_tokens(backend: str, tmp_path: Path) -> None:
    with _database(backend, tmp_path) as url:
        engine = make_engine(url)
        upgrade(engine, "0001")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO oauth_tokens (pair, system, access_token, refresh_token, updated_at) "
                    "VALUES ('acme', 'procore', 'PLAIN-ACCESS-1234', 'PLAIN-REFRESH-5678', CURRENT_TIMESTAMP)"
                )
            )
        cipher = TokenCipher([new_key()])
        upgrade(engine, token_cipher=cipher)
        assert current_revision(engine) == head_revision()
        with engine.connect() as connection:
            raw = connection.execute(text("SELECT access_token, refresh_token FROM oauth_tokens")).one()
        assert "PLAIN" not in repr(raw)
        loaded = DatabaseTokenStore(LinkStore(engine, "acme"), cipher).load("procore")
        assert loaded is not None
        assert (loaded.access_token, loaded.refresh_token) == ("PLAIN-ACCESS-1234", "PLAIN-REFRESH-5678")
        engine.dispose()


def _database(backend: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    from contextlib import nullcontext

    if backend == "sqlite":
        return nullcontext(f"sqlite:///{tmp_path / 'trestle.db'}")
    return temporary_database()
