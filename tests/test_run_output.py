"""What ``trestle run`` and ``trestle sandbox`` say in the terminal: a dry run's planned writes
field by field (and in ``--json``), where the summary email went, and a sandbox that refuses to
overwrite another dataset's saved state."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.notifications.reports import nightly_report
from trestle.cli import main
from trestle.notifications.email import deliver_summary
from trestle.run_output import email_line, format_summary
from trestle.sandbox.common import SandboxRuntime, SavedStateMismatch
from trestle.settings import EmailSettings


def test_dry_run_summary_lists_planned_writes_field_by_field_in_words() -> None:
    summary = nightly_report(dry_run=True).summary_dict()

    planned = summary["integrations"]["vendors"]["planned"]
    assert [write["action"] for write in planned] == ["created", "updated"]
    assert {"field": "TaxNumber", "before": None, "after": "53 004 085 616"} in planned[1]["changes"]
    text = format_summary(summary)
    assert "vendors: 2 planned write(s)" in text
    assert "  would create vendor Acme Concrete Pty Ltd" in text
    assert "      email: old@example.com → accounts@example.com" in text
    assert "      ABN / tax number: (empty) → 53 004 085 616" in text
    assert "commitments: 2 planned write(s)" in text and "      total: 12500.00 → 13750.50" in text


def test_a_real_run_summary_carries_no_plan() -> None:
    summary = nightly_report().summary_dict()
    assert "planned" not in summary["integrations"]["vendors"]
    assert "planned write" not in format_summary(summary)


def test_says_where_the_email_went(tmp_path: Path) -> None:
    report = nightly_report()
    result = deliver_summary(report, EmailSettings(outbox_dir=tmp_path))
    line = email_line(report.summary_dict())
    assert line == f"Summary email written to {result.path} (open {result.path.with_suffix('.html')} in a browser)"
    assert result.path.with_suffix(".csv").exists()
    assert email_line(report.summary_dict()) is None, "said once"


def test_saved_state_of_another_dataset_is_refused_and_left_alone(tmp_path: Path) -> None:
    SandboxRuntime(name="xero", dataset="medium", seed=1, state_dir=tmp_path).save_state({"saved": True})
    saved = tmp_path / "xero.pickle"
    digest = hashlib.sha256(saved.read_bytes()).hexdigest()

    with pytest.raises(SavedStateMismatch, match="holds the xero sandbox's medium dataset"):
        SandboxRuntime(name="xero", dataset="small", seed=1, state_dir=tmp_path).load_state()
    assert SandboxRuntime(name="xero", dataset="medium", seed=1, state_dir=tmp_path).load_state() == {"saved": True}
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == digest


def test_sandbox_command_refuses_a_mismatched_state_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    SandboxRuntime(name="xero", dataset="medium", seed=1, state_dir=tmp_path).save_state({"saved": True})
    argv = ["sandbox", "--state-dir", str(tmp_path), "--xero-port", "0", "--procore-port", "0"]
    assert main(argv) == 2
    assert "--dataset medium --seed 1 to serve it" in capsys.readouterr().err


def test_sandbox_demo_without_a_demo_says_to_run_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "--demo", str(tmp_path)]) == 2
    assert "run `trestle demo` first" in capsys.readouterr().err
