"""Every review issue code an integration can raise has a plain-words meaning and a fix."""

from __future__ import annotations

import re
from pathlib import Path

import trestle.integrations
from trestle.notifications.issues import _declared, is_waiting, issue_fix, issue_meaning, plain_settings

RAISED = re.compile(r'\(\s*(?:[\w.]+,\s*)?"([a-z_]+\.[a-z_]+)"')


def raised_codes() -> set[str]:
    """The codes the integrations' source passes to ``record.flag``, ``Blocked`` or ``IssueIn``."""
    folder = Path(trestle.integrations.__file__).parent
    return {code for path in folder.glob("*.py") for code in RAISED.findall(path.read_text())}


def test_every_raised_code_has_a_declared_meaning_and_a_fix() -> None:
    meanings, _ = _declared()
    codes = raised_codes()
    assert len(codes) > 30
    assert sorted(codes - set(meanings)) == []
    assert (
        sorted(code for code in codes if not issue_fix(code) and code not in ("contact.no_name", "cost_code.no_code"))
        == []
    )


def test_meanings_are_the_declarations_as_sentences_and_undeclared_codes_still_get_one() -> None:
    from trestle.integrations import integration

    declared = {issue.code: issue.meaning for issue in integration("projects").issue_codes()}
    meaning = issue_meaning("project.write_rejected")
    assert meaning[0].isupper() and meaning[1:].startswith(declared["project.write_rejected"][1:])
    assert issue_meaning("retention.target_already_linked").startswith("Another record is already linked")
    assert issue_meaning("retention.unreadable").startswith("The other system sent the record with a value of")
    assert issue_meaning("commitment.unreadable").startswith("Procore sent the record with a value of the wrong type")
    assert issue_meaning("retention.something_new") == "Trestle could not send this record (something new)."


def test_setting_names_become_words() -> None:
    assert "TRESTLE_" not in (issue_fix("vendors.contact_group_missing") or "")
    assert plain_settings("or set TRESTLE_SYNC_CONTACT_GROUP to yours") == "or set the “contact group” setting to yours"


def test_waiting_codes_are_states_not_problems() -> None:
    assert is_waiting("commitment.not_approved") and is_waiting("progress_claim.zero_amount")
    assert not is_waiting("commitment.no_lines")
