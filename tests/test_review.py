"""``trestle review``: grouped by integration and code with meaning and fix once, filters, stale
flags and the JSON shape, on a real (SQLite) link store through the command line entry point."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from trestle.cli import main
from trestle.db import make_engine, upgrade
from trestle.models.issues import IssueIn
from trestle.models.store import LinkStore
from trestle.models.tables import ReviewIssue
from trestle.notifications.issues import issue_fix, issue_meaning


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LinkStore:
    """A migrated SQLite store under TRESTLE_HOME with vendor and commitment issues, one of them old."""
    for key in ("TRESTLE_DATABASE_URL", "TRESTLE_PAIR", "TRESTLE_CONFIG", "TRESTLE_REVIEW_STALE_DAYS"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("TRESTLE_HOME", str(tmp_path))
    monkeypatch.setenv("TRESTLE_TIMEZONE", "Australia/Sydney")
    engine = make_engine(f"sqlite:///{tmp_path / 'trestle.db'}")
    upgrade(engine)
    store = LinkStore(engine, "default")
    store.reconcile_issues(
        "vendors",
        "vendor",
        {
            "c1": [IssueIn("contact.invalid_region", "Region 'NSW-9' is not a state of Australia.")],
            "c2": [IssueIn("contact.invalid_region", "Region 'Sydney' is not a state of Australia.")],
            "c3": [IssueIn("contact.invalid_country", "Country 'N.Z.' is not a country code.")],
        },
        labels={"c1": "Castillo Painting", "c2": "Hughes Masonry", "c3": "Chen Paving"},
    )
    store.reconcile_issues(
        "commitments",
        "commitment",
        {"9": [IssueIn("commitment.not_approved", "The work order is Out For Signature.")]},
        labels={"9": "SC-006 Masonry package"},
    )
    with store.session() as session:
        session.execute(
            update(ReviewIssue)
            .where(ReviewIssue.record_id == "c3")
            .values(first_seen=datetime.now(UTC) - timedelta(days=20))
        )
    return store


def review(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["review", *args]) == 0
    return capsys.readouterr().out


def test_groups_by_integration_and_code_with_meaning_and_fix_once(store: LinkStore, capsys) -> None:
    out = review(capsys)

    assert out.startswith("4 review issue(s): 3 need action, 1 waiting, 1 open more than 7 days (marked STALE)")
    assert out.index("Vendors (3)") < out.index("Commitments (1)")
    assert f"  contact.invalid_region (2): {issue_meaning('contact.invalid_region')}" in out
    assert out.count(f"How to fix it: {issue_fix('contact.invalid_region')}") == 1
    assert out.index("contact.invalid_region (2)") < out.index("contact.invalid_country (1)")
    assert "commitment.not_approved (1) — waiting, not a problem" in out
    assert "    - Chen Paving (vendor c3) [STALE: open 20 days]" in out
    assert "Castillo Painting (vendor c1)\n" in out
    assert "AEDT" in out or "AEST" in out


def test_filters_by_integration_code_text_and_age(store: LinkStore, capsys) -> None:
    assert "Commitments" not in review(capsys, "--integration", "vendors")
    only_code = review(capsys, "--code", "contact.invalid_country")
    assert only_code.startswith("1 review issue(s)") and "Chen Paving" in only_code
    assert "Hughes Masonry" in review(capsys, "hughes")
    old = review(capsys, "--older-than", "10")
    assert old.startswith("1 review issue(s)") and "Chen Paving" in old
    assert review(capsys, "--code", "vendor.inactive").startswith("No open review issues")


def test_json_carries_meaning_fix_waiting_and_stale(store: LinkStore, capsys, monkeypatch) -> None:
    monkeypatch.setenv("TRESTLE_REVIEW_STALE_DAYS", "30")
    rows = {row["record_id"]: row for row in json.loads(review(capsys, "--json"))}

    assert set(rows) == {"c1", "c2", "c3", "9"}
    assert rows["c1"]["meaning"] == issue_meaning("contact.invalid_region")
    assert rows["c1"]["fix"] == issue_fix("contact.invalid_region")
    assert rows["9"]["waiting"] is True and rows["c1"]["waiting"] is False
    assert rows["c3"]["days_open"] == 20
    assert rows["c3"]["stale"] is False, "30 days configured: 20 days is not stale yet"
    monkeypatch.setenv("TRESTLE_REVIEW_STALE_DAYS", "7")
    assert {row["record_id"] for row in json.loads(review(capsys, "--json")) if row["stale"]} == {"c3"}
