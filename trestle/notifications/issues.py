"""What each review issue code means and how to fix it, in the words an accountant uses.

Every integration declares its issue codes once (``issues``: code, meaning, fix; see
:mod:`trestle.tasks.declaration`); this module is the one place the email, ``trestle review`` and
the Prefect artifact read them from, so they never disagree. Codes the pipeline raises for any integration
(``<entity>.write_rejected``, ``<entity>.target_already_linked``, ``<entity>.unreadable``) fall
back on a meaning per suffix.

"Waiting" codes are normal states of work in progress (a commitment not approved yet, a claim
that bills nothing): they are reported apart from problems and not counted as issues.
"""

from __future__ import annotations

import re
from functools import cache

WAITING_CODES: frozenset[str] = frozenset({"commitment.not_approved", "progress_claim.zero_amount"})
"""Codes that mean "not ready yet", not "something is wrong"."""

_MEANING_BY_SUFFIX = {
    "write_rejected": "The other system refused the write; its message says why.",
    "target_already_linked": "Another record is already linked to the same record in the other system.",
    "unreadable": "The other system sent the record with a value of the wrong type; nothing was sent for it.",
}
_SETTING = re.compile(r"`?TRESTLE_([A-Z0-9_]+)`?")
_SECTIONS = ("SYNC_", "EMAIL_", "PROCORE_", "XERO_")


@cache
def _declared() -> tuple[dict[str, str], dict[str, str]]:
    """Every integration's meanings and fixes, merged (codes are unique across integrations)."""
    from trestle.integrations import registry

    meanings: dict[str, str] = {}
    fixes: dict[str, str] = {}
    for cls in registry().values():
        for issue in cls.issue_codes():
            meanings[issue.code] = _sentence(issue.meaning)
            fixes[issue.code] = issue.fix
    return meanings, fixes


def _sentence(phrase: str) -> str:
    """A declared meaning ("the contact has no name") as a sentence ("The contact has no name.")."""
    phrase = phrase.strip()
    if not phrase:
        return phrase
    return phrase[0].upper() + phrase[1:] + ("" if phrase.endswith((".", "!", "?", ")")) else ".")


def issue_meaning(code: str) -> str:
    """What ``code`` means, in plain words (a generic sentence for codes nobody described)."""
    meanings, _ = _declared()
    if code in meanings:
        return meanings[code]
    suffix = code.rpartition(".")[2]
    return _MEANING_BY_SUFFIX.get(suffix, f"Trestle could not send this record ({suffix.replace('_', ' ')}).")


def issue_fix(code: str, given: str | None = None) -> str | None:
    """How to fix ``code``: the fix the issue carries (``given``) or the integration's, in plain words."""
    _, fixes = _declared()
    fix = given or fixes.get(code)
    return plain_settings(fix) if fix else None


def is_waiting(code: str) -> bool:
    """Whether ``code`` is a normal "not ready yet" state rather than a problem."""
    return code in WAITING_CODES


def plain_settings(text: str) -> str:
    """Name settings the way a person asks for them: ``TRESTLE_SYNC_CONTACT_GROUP`` → the
    "contact group" setting (a bookkeeper asks whoever runs Trestle to change it)."""

    def words(match: re.Match[str]) -> str:
        name = match.group(1)
        for section in _SECTIONS:
            name = name.removeprefix(section)
        return f"the “{name.lower().replace('_', ' ')}” setting"

    return _SETTING.sub(words, text)
