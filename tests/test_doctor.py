"""``trestle doctor`` on the sandboxes: a healthy setup, then broken ones, each named with its fix."""

from __future__ import annotations

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
