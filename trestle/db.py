"""Database engine, migrations and the schema check every run makes before it starts."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class SchemaOutOfDate(Exception):
    """The database is behind the code's migrations: ``trestle db upgrade`` fixes it."""


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets its folder created, WAL mode and a busy timeout.

    The URL is kept as a :class:`~sqlalchemy.engine.URL` object throughout: its ``str()`` masks
    the password as ``***``, so rebuilding it from text would lose the login. Every engine has
    ``hide_parameters`` on, so no bound value (a token, a record's data) reaches an error message.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 30}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_pre_ping=True, hide_parameters=True)


def alembic_config(engine: Engine | None = None) -> Config:
    """Alembic's config for Trestle's migrations (and ``engine``'s URL, for Alembic's own tools)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        # Alembic's config interpolates "%(name)s": a literal % (in a password) must be doubled
        url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
        config.set_main_option("sqlalchemy.url", url)
    return config


@cache
def head_revision() -> str | None:
    """The newest migration this install ships (read once per process: the scripts are part of the package)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(
    engine: Engine, revision: str = "head", *, token_cipher: object | None = None
) -> tuple[str | None, str | None]:
    """Apply migrations up to ``revision``; returns (before, after) revisions.

    ``token_cipher`` (a :class:`trestle.crypto.TokenCipher`) encrypts stored tokens in migration
    0002; without it the install's key is used (``TRESTLE_SECRET_KEY`` or the key file).
    """
    before = current_revision(engine)
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        config.attributes["token_cipher"] = token_cipher
        command.upgrade(config, revision)
    return before, current_revision(engine)


def check_schema(engine: Engine) -> None:
    """Refuse to run on a database whose schema is not at the code's head revision."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        where = engine.url.render_as_string(hide_password=True)
        state = "has no Trestle tables yet" if current is None else f"is at revision {current}"
        raise SchemaOutOfDate(
            f"the database {where} {state}, but this version of Trestle needs revision {head}: "
            "run `trestle db upgrade` first"
        )
