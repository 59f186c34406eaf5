"""``trestle doctor`` on the sandboxes: a healthy setup, then broken ones, each named with its fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from trestle.doctor import format_checks, run_checks


def failures(checks: list) -> dict[str, str]:
    return {check.name: check.fix or "" for check in checks if not check.ok}


def test_healthy_setup_passes_every_check(trestle_env: dict[str, str]) -> None:
    checks = run_checks()
    assert failures(checks) == {}, format_checks(checks)
    names = {check.name for check in checks}
    assert {"Procore company", "Xero organisation", "Xero contact group", "database"} <= names


def test_broken_setup_says_what_is_wrong(trestle_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRESTLE_SYNC_CONTACT_GROUP", "Subbies")
    monkeypatch.setenv("TRESTLE_SYNC_PROJECT_CATEGORY", "Jobs")
    monkeypatch.setenv("TRESTLE_SYNC_BILL_ACCOUNT_CODE", "999")
    monkeypatch.setenv("TRESTLE_SYNC_PROJECT_STAGE", "Ready for Accounts")
    failed = failures(run_checks())
    assert "TRESTLE_SYNC_CONTACT_GROUP" in failed["Xero contact group"]
    assert "TRESTLE_SYNC_PROJECT_CATEGORY" in failed["Xero tracking category 'Jobs'"]
    assert "TRESTLE_SYNC_BILL_ACCOUNT_CODE" in failed["Xero account 999"]
    assert "Send to Xero" in failed["Procore stage"], "the fix lists the stages that exist"


def test_wrong_credentials_and_company_are_named(trestle_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRESTLE_XERO_CLIENT_SECRET", "not-the-secret")
    monkeypatch.setenv("TRESTLE_PROCORE_COMPANY_ID", "12345")
    checks = run_checks()
    failed = failures(checks)
    assert "Xero API" in failed and "Procore company" in failed
    assert "not-the-secret" not in format_checks(checks)


def test_missing_configuration_is_the_first_failure(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for key in ("TRESTLE_PROCORE_COMPANY_ID", "TRESTLE_XERO_TENANT_ID", "TRESTLE_XERO_CLIENT_ID"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("TRESTLE_HOME", str(tmp_path))
    checks = run_checks()
    assert len(checks) == 1 and not checks[0].ok and "TRESTLE_PROCORE_COMPANY_ID" in checks[0].detail


def test_a_wrong_tenant_id_is_named_as_such(trestle_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRESTLE_XERO_TENANT_ID", "00000000-0000-0000-0000-000000000000")
    checks = {check.name: check for check in run_checks()}
    tenant = checks["Xero tenant"]
    assert not tenant.ok and "not connected to tenant 00000000-0000-0000-0000-000000000000" in tenant.detail
    assert trestle_env["TRESTLE_XERO_TENANT_ID"] in tenant.detail, "it lists the tenants the app can reach"
    assert tenant.fix and "TRESTLE_XERO_TENANT_ID" in tenant.fix
    assert checks["Procore company"].ok, "Procore is checked on its own"


def test_an_unreachable_database_gives_the_drivers_reason(
    trestle_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from trestle.deployments.local import free_port

    monkeypatch.setenv("TRESTLE_DATABASE_URL", f"postgresql://postgres@127.0.0.1:{free_port()}/trestle")
    database = {check.name: check for check in run_checks()}["database"]
    assert not database.ok and "Connection refused" in database.detail and "OperationalError" not in database.detail


def test_schedules_are_checked_and_shown(
    trestle_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "trestle.toml"
    config.write_text('[schedules.vendors]\ninterval = "1h"\ntimezone = "UTC"\n')
    monkeypatch.setenv("TRESTLE_CONFIG", str(config))
    schedules = {check.name: check for check in run_checks()}["schedules"]
    assert (
        schedules.ok
        and "vendors every 3600 s (UTC)" in schedules.detail
        and "nightly cron 0 2 * * *" in schedules.detail
    )
    config.write_text('[schedules.vendor]\ninterval = "1h"\n')
    schedules = {check.name: check for check in run_checks()}["schedules"]
    assert not schedules.ok and "schedules.vendor" in schedules.detail and "no such deployment" in schedules.detail


def test_a_secret_block_without_a_prefect_api_says_so(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TRESTLE_", "PREFECT_API"))}
    env.update(
        {
            "PREFECT_HOME": str(tmp_path / "prefect"),
            "TRESTLE_HOME": str(tmp_path / "home"),
            "TRESTLE_XERO_CLIENT_SECRET_BLOCK": "xero-secret",
        }
    )
    result = subprocess.run(
        [sys.executable, "-m", "trestle.cli", "doctor"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 2, result.stderr
    assert "TRESTLE_XERO_CLIENT_SECRET_BLOCK" in result.stdout and "no Prefect API is configured" in result.stdout
    assert "PREFECT_API_URL" in result.stdout and "Traceback" not in result.stdout + result.stderr
