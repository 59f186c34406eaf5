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
