"""The ``trestle`` command's exit codes and messages for configuration and schema problems."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def trestle(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("TRESTLE_")}
    return subprocess.run(
        [sys.executable, "-m", "trestle.cli", *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    return {"TRESTLE_HOME": str(tmp_path / "home")}


def test_missing_credentials_fail_with_exit_2_naming_each_setting(tmp_path: Path, home: dict[str, str]) -> None:
    result = trestle("run", "vendors", env=home, cwd=tmp_path)
    assert result.returncode == 2
    for name in ("TRESTLE_PROCORE_COMPANY_ID", "TRESTLE_XERO_TENANT_ID", "TRESTLE_XERO_CLIENT_SECRET"):
        assert name in result.stderr


def test_bad_setting_is_named_with_its_value(tmp_path: Path, home: dict[str, str]) -> None:
    result = trestle("review", env={**home, "TRESTLE_SYNC_TAX_MODE": "sometimes"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "TRESTLE_SYNC_TAX_MODE" in result.stderr and "'sometimes'" in result.stderr


def test_secret_values_are_not_echoed_in_errors(tmp_path: Path, home: dict[str, str]) -> None:
    result = trestle(
        "review",
        env={**home, "TRESTLE_EMAIL_SMTP_PORT": "x", "TRESTLE_XERO_CLIENT_SECRET": "s3cr3t-value"},
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "s3cr3t-value" not in result.stderr + result.stdout


def test_out_of_date_schema_is_refused_until_upgraded(tmp_path: Path, home: dict[str, str]) -> None:
    refused = trestle("review", env=home, cwd=tmp_path)
    assert refused.returncode == 2
    assert "trestle db upgrade" in refused.stderr
    upgraded = trestle("db", "upgrade", env=home, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    from trestle.db import head_revision

    assert f"→ {head_revision()}" in upgraded.stdout
    listed = trestle("review", "--json", env=home, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []


def test_unknown_integration_is_exit_2(tmp_path: Path, home: dict[str, str]) -> None:
    result = trestle("run", "timesheets", env=home, cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown integration" in result.stderr


def test_config_file_is_read_and_environment_wins(tmp_path: Path, home: dict[str, str]) -> None:
    config = tmp_path / "trestle.toml"
    config.write_text('[sync]\ntax_mode = "inclusive"\ncontact_group = "Subbies"\n')
    from trestle.settings import load_settings

    os.environ.pop("TRESTLE_SYNC_CONTACT_GROUP", None)
    previous = os.environ.get("TRESTLE_CONFIG")
    os.environ["TRESTLE_CONFIG"] = str(config)
    os.environ["TRESTLE_SYNC_TAX_MODE"] = "none"
    try:
        settings = load_settings()
    finally:
        os.environ.pop("TRESTLE_SYNC_TAX_MODE")
        if previous is None:
            os.environ.pop("TRESTLE_CONFIG")
        else:
            os.environ["TRESTLE_CONFIG"] = previous
    assert settings.sync.contact_group == "Subbies"
    assert settings.sync.tax_mode == "none"


PAIRS_TOML = """
[pairs.north.procore]
company_id = 1
[pairs.south.procore]
company_id = 2
"""


def test_an_unknown_pair_is_exit_2_naming_the_configured_ones(tmp_path: Path, home: dict[str, str]) -> None:
    (tmp_path / "trestle.toml").write_text(PAIRS_TOML)
    result = trestle("run", "vendors", "--pair", "west", "--json", env=home, cwd=tmp_path)
    assert result.returncode == 2
    assert "TRESTLE_PAIR" in result.stderr and "north, south" in result.stderr


def test_doctor_checks_every_pair_and_names_what_each_lacks(tmp_path: Path, home: dict[str, str]) -> None:
    (tmp_path / "trestle.toml").write_text(PAIRS_TOML)
    result = trestle("doctor", "--json", env=home, cwd=tmp_path)
    assert result.returncode == 2
    checks = json.loads(result.stdout)
    assert [check["name"] for check in checks] == ["north: configuration", "south: configuration"]
    assert all("for pair" in check["detail"] and "TRESTLE_XERO_TENANT_ID" in check["detail"] for check in checks)
    only_south = trestle("doctor", "--pair", "south", "--json", env=home, cwd=tmp_path)
    assert [check["name"] for check in json.loads(only_south.stdout)] == ["configuration"]


# --------------------------------------------------------------------------- expected failures: one line, exit 2
def assert_clean_failure(result: subprocess.CompletedProcess, *named: str) -> str:
    """Exit 2, one ``trestle:`` line on stderr naming each of ``named``, and no traceback."""
    assert result.returncode == 2, f"exit {result.returncode}:\n{result.stderr}"
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("trestle:")]
    assert len(lines) == 1, result.stderr
    for text in named:
        assert text in lines[0], f"{text!r} not in {lines[0]!r}"
    return lines[0]


def _refused_port() -> int:
    from trestle.deployments.local import free_port

    return free_port()  # nothing listens on it


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("postgresql://postgres:pw-not-shown@127.0.0.1:{port}/trestle", ["Connection refused", "is the database"]),
        ("sqlite:///{tmp}", ["unable to open database file"]),  # a folder, not a file
        ("mysql://u:pw-not-shown@localhost/db", ["unsupported database 'mysql'", "postgresql://"]),
    ],
)
def test_an_unusable_database_is_one_line_naming_the_setting(
    tmp_path: Path, home: dict[str, str], url: str, named: list[str]
) -> None:
    url = url.format(port=_refused_port(), tmp=tmp_path)
    result = trestle("review", env={**home, "TRESTLE_DATABASE_URL": url}, cwd=tmp_path)
    line = assert_clean_failure(result, "TRESTLE_DATABASE_URL", *named)
    assert "pw-not-shown" not in result.stderr + result.stdout, line


@pytest.mark.postgres
def test_a_missing_postgres_database_is_named_with_the_fix(tmp_path: Path, home: dict[str, str]) -> None:
    from tests.postgres import temporary_database

    with temporary_database() as url:
        missing = url.rsplit("/", 1)[0] + "/trestle_no_such_database"
    result = trestle("db", "upgrade", env={**home, "TRESTLE_DATABASE_URL": missing}, cwd=tmp_path)
    assert_clean_failure(result, "TRESTLE_DATABASE_URL", "does not exist", "createdb")


def test_debug_shows_the_traceback_of_an_expected_failure(tmp_path: Path, home: dict[str, str]) -> None:
    url = f"postgresql://postgres@127.0.0.1:{_refused_port()}/trestle"
    result = trestle("review", "--debug", env={**home, "TRESTLE_DATABASE_URL": url}, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" in result.stderr and "OperationalError" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("trestle: TRESTLE_DATABASE_URL")


@pytest.fixture
def sandbox_run_env(sandboxes: object, tmp_path: Path, home: dict[str, str]) -> dict[str, str]:
    """``trestle run`` settings for the session's sandboxes, with a migrated SQLite database."""
    database = {"TRESTLE_DATABASE_URL": f"sqlite:///{tmp_path / 'trestle.db'}"}
    env = {**sandboxes.env, **home, **database}  # type: ignore[attr-defined]
    upgraded = trestle("db", "upgrade", env=env, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    return env


def test_refused_credentials_are_one_line_naming_the_settings(tmp_path: Path, sandbox_run_env: dict[str, str]) -> None:
    env = {**sandbox_run_env, "TRESTLE_PROCORE_CLIENT_SECRET": "wrong-secret-not-shown"}
    result = trestle("run", "vendors", "--no-email", env=env, cwd=tmp_path)
    assert_clean_failure(result, "procore refused the credentials", "TRESTLE_PROCORE_CLIENT_SECRET")
    assert "wrong-secret-not-shown" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("setting", "url", "reason"),
    [
        ("TRESTLE_XERO_IDENTITY_URL", "http://127.0.0.1:{port}", "connection refused"),
        ("TRESTLE_PROCORE_LOGIN_URL", "http://trestle-no-such-host.invalid", "cannot connect"),
    ],
)
def test_an_unreachable_host_fails_fast_in_one_line(
    tmp_path: Path, sandbox_run_env: dict[str, str], setting: str, url: str, reason: str
) -> None:
    import time

    env = {**sandbox_run_env, setting: url.format(port=_refused_port())}
    began = time.monotonic()
    result = trestle("run", "vendors", "--no-email", env=env, cwd=tmp_path)
    elapsed = time.monotonic() - began
    system = setting.split("_")[1].lower()
    assert_clean_failure(result, f"{system}:", reason, f"TRESTLE_{system.upper()}_API_URL")
    assert elapsed < 30, f"{elapsed:.0f} s, of which the CLI's own start is a few: no long retries"


def test_a_refused_connection_gives_up_within_ten_seconds() -> None:
    import time

    from trestle.clients.auth import StaticTokenAuthenticator
    from trestle.clients.errors import ConnectionFailedError
    from trestle.clients.xero import XeroClient

    client = XeroClient(
        api_url=f"http://127.0.0.1:{_refused_port()}", authenticator=StaticTokenAuthenticator("t"), tenant_id="x"
    )
    began = time.monotonic()
    with pytest.raises(ConnectionFailedError) as raised:
        client.organisation()
    assert time.monotonic() - began < 10
    assert "connection refused" in str(raised.value)


def test_a_closed_output_pipe_ends_quietly(tmp_path: Path, home: dict[str, str]) -> None:
    """``trestle spec | head`` and the like: a reader that stops early is not a crash."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte is written
    clean = {key: value for key, value in os.environ.items() if not key.startswith("TRESTLE_")}
    try:
        result = subprocess.run(
            [sys.executable, "-m", "trestle.cli", "spec", "--markdown"],
            env={**clean, **home},
            cwd=tmp_path,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "BrokenPipe" not in result.stderr
