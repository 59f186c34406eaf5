"""Refresh-token mode on the Procore sandbox: tokens encrypted at rest, rotations that cannot be lost.

Every test authorises a real user grant on the sandbox's OAuth server (authorization code, then
single-use rotating refresh tokens), runs Trestle's own run context against it, and reads the
``oauth_tokens`` table with plain SQL to see what is really stored. Databases: SQLite and
PostgreSQL (the ``database_url`` fixture).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from trestle.cli import main
from trestle.clients import AuthenticationError
from trestle.crypto import TokenCipher, new_key
from trestle.db import make_engine
from trestle.models.tokens import DatabaseTokenStore, token_store_for
from trestle.settings import load_settings
from trestle.tasks.context import RunContext


@pytest.fixture
def procore_user_env(
    fresh_sandboxes: Any, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """TRESTLE_* settings for the sandboxes with Procore in refresh-token mode and a fresh grant."""
    for key in list(os.environ):
        if key.startswith("TRESTLE_") and key not in ("TRESTLE_TEST_POSTGRES_URL", "TRESTLE_REQUIRE_POSTGRES"):
            monkeypatch.delenv(key)
    env = dict(fresh_sandboxes.env)
    env |= {
        "TRESTLE_DATABASE_URL": database_url,
        "TRESTLE_HOME": str(tmp_path / "home"),
        "TRESTLE_SECRET_KEY": new_key(),
        "TRESTLE_PROCORE_AUTH_MODE": "refresh_token",
        "TRESTLE_PROCORE_REFRESH_TOKEN": authorise(fresh_sandboxes.env),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def authorise(env: dict[str, str]) -> str:
    """A new refresh token from the sandbox, the way a user authorises the app (out-of-band code)."""
    login = env["TRESTLE_PROCORE_LOGIN_URL"]
    page = httpx.get(
        f"{login}/oauth/authorize",
        params={"client_id": env["TRESTLE_PROCORE_CLIENT_ID"], "response_type": "code"},
    )
    page.raise_for_status()
    code = re.search(r"<code>([^<]+)</code>", page.text)
    assert code, page.text
    answer = httpx.post(
        f"{login}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code.group(1),
            "client_id": env["TRESTLE_PROCORE_CLIENT_ID"],
            "client_secret": env["TRESTLE_PROCORE_CLIENT_SECRET"],
        },
    )
    answer.raise_for_status()
    return str(answer.json()["refresh_token"])


def spend(env: dict[str, str], refresh_token: str) -> None:
    """Use ``refresh_token`` outside Trestle, so the copy Trestle holds is dead (single use)."""
    answer = httpx.post(
        f"{env['TRESTLE_PROCORE_LOGIN_URL']}/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": env["TRESTLE_PROCORE_CLIENT_ID"],
            "client_secret": env["TRESTLE_PROCORE_CLIENT_SECRET"],
        },
    )
    answer.raise_for_status()


def expire_access_tokens(env: dict[str, str]) -> None:
    httpx.post(f"{env['TRESTLE_PROCORE_API_URL']}/_sandbox/tokens/expire").raise_for_status()


@pytest.fixture
def contexts() -> Iterator[list[RunContext]]:
    """Run contexts made by a test, closed after it (one per simulated process start)."""
    made: list[RunContext] = []
    yield made
    for ctx in made:
        ctx.close()


def start(contexts: list[RunContext]) -> RunContext:
    """A new run context from the environment, as a fresh process would make it."""
    ctx = RunContext(load_settings())
    contexts.append(ctx)
    return ctx


def stored_row(env: dict[str, str]) -> dict[str, Any]:
    engine = make_engine(env["TRESTLE_DATABASE_URL"])
    with engine.connect() as connection:
        row = connection.execute(text("SELECT * FROM oauth_tokens WHERE system = 'procore'")).mappings().one()
    engine.dispose()
    return dict(row)


def stored_plain(env: dict[str, str]) -> tuple[str | None, str]:
    """The stored (access, refresh) pair, decrypted with the configured key."""
    row = stored_row(env)
    cipher = TokenCipher(env["TRESTLE_SECRET_KEY"].split(","))
    access = cipher.decrypt(row["access_token"]) if row["access_token"] else None
    return access, cipher.decrypt(row["refresh_token"])


def test_refresh_tokens_rotate_are_encrypted_and_survive_a_restart(
    procore_user_env: dict[str, str], contexts: list[RunContext]
) -> None:
    env = procore_user_env
    first = start(contexts)
    assert first.procore.me().id
    access, refresh = stored_plain(env)
    assert refresh != env["TRESTLE_PROCORE_REFRESH_TOKEN"], "the configured token was spent and rotated"
    raw = repr(stored_row(env))
    assert access not in raw and refresh not in raw, "tokens must be encrypted at rest"
    assert stored_row(env)["configured_fingerprint"].startswith("sha256:")

    expire_access_tokens(env)
    assert first.procore.me().id, "a 401 for an expired token refreshes once and goes on"
    assert stored_plain(env)[1] != refresh, "the second rotation is stored too"

    restarted = start(contexts)  # same configured (now long spent) token: the stored one must win
    assert restarted.procore.me().id


def test_a_changed_configured_token_replaces_a_dead_stored_one(
    procore_user_env: dict[str, str], contexts: list[RunContext], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = procore_user_env
    assert start(contexts).procore.me().id
    spend(env, stored_plain(env)[1])  # someone else spent it: the stored token is dead
    expire_access_tokens(env)

    with pytest.raises(AuthenticationError) as refused:
        start(contexts).procore.me()
    assert "invalid_grant" in str(refused.value)
    assert "trestle tokens reset --pair default" in str(refused.value), "the message names the one command"

    monkeypatch.setenv("TRESTLE_PROCORE_REFRESH_TOKEN", authorise(env))  # the operator re-authorised
    assert start(contexts).procore.me().id, "a newly configured refresh token wins over the stored dead one"


def test_a_rotated_token_the_database_refuses_is_kept_and_recovered(
    procore_user_env: dict[str, str], contexts: list[RunContext], caplog: pytest.LogCaptureFixture
) -> None:
    env = procore_user_env
    ctx = start(contexts)
    assert ctx.procore.me().id
    spent_refresh = stored_plain(env)[1]
    engine = make_engine(env["TRESTLE_DATABASE_URL"])
    sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as connection:
        if sqlite:
            connection.exec_driver_sql(
                "CREATE TRIGGER refuse_tokens BEFORE UPDATE ON oauth_tokens "
                "BEGIN SELECT RAISE(ABORT, 'disk quota exceeded'); END"
            )
        else:
            connection.exec_driver_sql(
                "CREATE FUNCTION refuse_tokens() RETURNS trigger AS $$ "
                "BEGIN RAISE EXCEPTION 'disk quota exceeded'; END $$ LANGUAGE plpgsql"
            )
            connection.exec_driver_sql(
                "CREATE TRIGGER refuse_tokens BEFORE UPDATE ON oauth_tokens "
                "FOR EACH ROW EXECUTE FUNCTION refuse_tokens()"
            )

    expire_access_tokens(env)
    assert ctx.procore.me().id, "a failed save must not kill the connection"
    pending = Path(env["TRESTLE_HOME"]) / "tokens" / "default-procore.pending"
    assert pending.is_file()
    assert stat.S_IMODE(pending.stat().st_mode) == 0o600
    assert stored_plain(env)[1] == spent_refresh, "the database kept the old row"
    warning = next(record.getMessage() for record in caplog.records if "refused the rotated" in record.getMessage())
    assert str(pending) in warning and "trestle tokens reset --pair default" in warning
    assert "[SQL parameters hidden" in warning or "parameters" not in warning

    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TRIGGER refuse_tokens" + ("" if sqlite else " ON oauth_tokens"))
    engine.dispose()
    expire_access_tokens(env)
    assert start(contexts).procore.me().id, "the next run uses the pending pair"
    assert not pending.exists(), "and moves it into the database"
    assert stored_plain(env)[1] != spent_refresh


def test_tokens_reset_replaces_the_stored_token_from_standard_input(
    procore_user_env: dict[str, str],
    contexts: list[RunContext],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = procore_user_env
    assert start(contexts).procore.me().id
    spend(env, stored_plain(env)[1])
    fresh = authorise(env)
    monkeypatch.delenv("TRESTLE_PROCORE_REFRESH_TOKEN")
    read, write = os.pipe()
    os.write(write, f"{fresh}\n".encode())
    os.close(write)
    with os.fdopen(read) as stdin:
        monkeypatch.setattr("sys.stdin", stdin)
        assert main(["tokens", "reset", "--pair", "default"]) == 0
    assert "replaced by the given refresh token" in capsys.readouterr().out
    assert stored_plain(env)[1] == fresh
    expire_access_tokens(env)
    assert start(contexts).procore.me().id


def test_key_rotation_rekeys_every_stored_token(
    procore_user_env: dict[str, str],
    contexts: list[RunContext],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = procore_user_env
    assert start(contexts).procore.me().id
    old_key, newer_key = env["TRESTLE_SECRET_KEY"], new_key()
    monkeypatch.setenv("TRESTLE_SECRET_KEY", f"{newer_key},{old_key}")
    assert main(["tokens", "rekey"]) == 0
    monkeypatch.setenv("TRESTLE_SECRET_KEY", newer_key)  # the old key is retired
    expire_access_tokens(env)
    assert start(contexts).procore.me().id

    monkeypatch.setenv("TRESTLE_SECRET_KEY", new_key())  # a wrong key: a clear message, not a crash
    with pytest.raises(AuthenticationError, match=r"cannot be decrypted.*trestle tokens reset --pair default"):
        start(contexts).procore.me()


def test_without_a_key_sqlite_installs_get_a_private_key_file(
    procore_user_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRESTLE_SECRET_KEY")
    settings = load_settings()
    if not (settings.database_url or "").startswith("sqlite"):
        from trestle.settings import ConfigError

        with pytest.raises(ConfigError, match=r"TRESTLE_SECRET_KEY is not set.*trestle tokens new-key"):
            token_store_for(settings, start_store(settings))
        return
    store = token_store_for(settings, start_store(settings))
    key_file = settings.home / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = token_store_for(settings, start_store(settings))
    store.reset("procore", "a-refresh-token-value")
    assert again.load("procore") is not None, "the same key is used by the next process"


def start_store(settings: Any) -> Any:
    from trestle.models.store import LinkStore

    return LinkStore(make_engine(settings.database_url), settings.pair)


def test_no_pending_folder_means_a_clear_error_naming_the_reset_command(database_url: str) -> None:
    from trestle.clients.auth import TokenSet
    from trestle.models.store import LinkStore
    from trestle.models.tokens import TokenNotSaved

    engine = make_engine(database_url)
    tokens = DatabaseTokenStore(LinkStore(engine, "acme"), TokenCipher([new_key()]))
    engine.dispose()  # a closed pool still connects: break the URL instead
    tokens.store = LinkStore(make_engine("sqlite:////nonexistent-dir/never.db"), "acme")
    with pytest.raises(TokenNotSaved, match="trestle tokens reset --pair acme"):
        tokens.save("procore", TokenSet("ACCESS-abcdef", "REFRESH-abcdef", 0.0))
