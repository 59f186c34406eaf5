"""The summary email's content: what needs action first, issues grouped with meaning and fix,
words instead of field names, links, counts, dry-run wording and escaping."""

from __future__ import annotations

from html.parser import HTMLParser

from tests.notifications.reports import (
    HOSTILE_LABEL,
    clean_report,
    failed_report,
    many_records_report,
    medium_night_report,
    nightly_report,
)
from trestle.models.report import RecordOutcome, RunReport
from trestle.notifications.issues import issue_meaning
from trestle.notifications.render import render_markdown, render_summary

BLOCK_TAGS = {"td", "th", "tr", "div", "p", "li", "ul", "h1", "h2", "h3", "br", "table", "title"}


class HtmlFacts(HTMLParser):
    """Collects what a reader of the HTML sees: link targets with their text, script tags, and text."""

    def __init__(self) -> None:
        super().__init__()
        self.links: dict[str, str] = {}
        self.tags: list[str] = []
        self.text_parts: list[str] = []
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in BLOCK_TAGS:
            self.text_parts.append(" ")
        if tag == "a":
            self._href = dict(attrs).get("href")
            self.links[self._href or ""] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag in BLOCK_TAGS:
            self.text_parts.append(" ")
        if tag == "a":
            self._href = None

    def handle_data(self, data: str) -> None:
        self.text_parts.append(data)
        if self._href is not None:
            self.links[self._href] += data

    @property
    def text(self) -> str:
        return " ".join("".join(self.text_parts).split())


def parse(html: str) -> HtmlFacts:
    facts = HtmlFacts()
    facts.feed(html)
    facts.close()
    return facts


def record_urls(report: RunReport) -> list[str]:
    return [
        url
        for item in report.integrations
        for outcome in item.outcomes
        for url in (outcome.source_url, outcome.target_url)
        if url
    ]


def test_html_links_every_shown_record_in_both_systems() -> None:
    report = nightly_report()
    facts = parse(render_summary(report).html)

    written = [o for item in report.integrations for o in item.outcomes if o.action in ("created", "updated")]
    assert len(written) == 4
    for outcome in written:
        assert facts.links[outcome.source_url] == "Procore"
        assert facts.links[outcome.target_url] == "Xero"


def test_needs_action_comes_first_grouped_by_code_with_meaning_and_fix() -> None:
    report = nightly_report()
    facts = parse(render_summary(report).html)
    text = facts.text

    assert text.index("Needs action (2)") < text.index("What changed")
    assert f"Commitments: {issue_meaning('commitment.invalid_cost_code')}" in text
    assert "How to fix it: Use cost codes from the company's standard cost code list on every line" in text
    assert "How to fix it: Add the ABN on the vendor's Company tab in Procore; the next run picks it up." in text
    for item in report.integrations:
        for issue in item.issues:
            assert issue.message in text
            assert facts.links[issue.url] == issue.label
            assert text.index(issue.message) < text.index("What changed")
    # The failed purchase order has an issue: it is listed under the issue, not again as "not written".
    assert text.count("SC-0043 Scaffolding") == 1
    assert text.count("No-ABN Plumbing") == 1


def test_counts_and_changes_are_in_words() -> None:
    facts = parse(render_summary(nightly_report()).html)

    assert "Finished with issues" in facts.text
    assert "2 created 2 updated 5 unchanged 1 skipped 1 failed 2 issues" in facts.text
    assert "email: old@example.com → accounts@example.com" in facts.text
    assert "ABN / tax number: (empty) → 53 004 085 616" in facts.text
    assert "total: 12500.00 → 13750.50" in facts.text
    assert "3 vendors are inactive in Procore and were left alone" in facts.text
    assert "Xero: 4,994 of 5,000 calls left today" in facts.text
    assert "EmailAddress" not in facts.text and "TaxNumber" not in facts.text


def test_link_fields_and_internal_names_never_show() -> None:
    rendered = render_summary(medium_night_report())
    for body in (rendered.html, rendered.text):
        assert "origin_id" not in body
        assert "business_id" not in body
        assert "(empty) → 0e5c" not in body
    assert "now linked to its Procore record" in rendered.text
    assert "Procore: 3,420 of 3,600 calls left until 2025-03-04 15:00 AEDT" in rendered.text


def test_times_are_shown_in_the_configured_time_zone() -> None:
    report = nightly_report()
    report.timezone = "Australia/Sydney"
    assert "Started 2025-03-04 13:00 AEDT" in render_summary(report).text
    report.timezone = "UTC"
    assert "Started 2025-03-04 02:00 UTC" in render_summary(report).text


def test_waiting_states_are_apart_and_not_counted_as_issues() -> None:
    report = medium_night_report()
    rendered = render_summary(report)

    assert rendered.subject == "Trestle [default] nightly: 585 created, 88 updated, 106 issues"
    text = rendered.text
    assert "== Needs action (106) ==" in text
    assert "== Waiting (38) ==" in text
    assert text.index("== Needs action") < text.index("== Waiting") < text.index("== What changed")
    waiting = text[text.index("== Waiting") : text.index("== What changed")]
    assert f"Commitments: {issue_meaning('commitment.not_approved')} (38)" in waiting
    assert "... and 28 more: trestle review --code commitment.not_approved" in waiting
    assert "not approved" not in text[: text.index("== Waiting")]


def test_what_changed_shows_the_first_records_and_points_at_the_csv() -> None:
    rendered = render_summary(many_records_report(205))
    facts = parse(rendered.html)

    assert "https://app.procore.com/1/company/vendors/4" in facts.links
    assert "https://app.procore.com/1/company/vendors/5" not in facts.links
    assert "Created (205)" in facts.text
    assert "… and 200 more in the attached CSV." in facts.text
    assert "... and 200 more in the attached CSV." in rendered.text


def test_hostile_labels_are_escaped_in_html_and_literal_in_text() -> None:
    rendered = render_summary(nightly_report())
    facts = parse(rendered.html)

    assert "script" not in facts.tags
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Sons" in rendered.html
    assert HOSTILE_LABEL in facts.text
    assert HOSTILE_LABEL in rendered.text
    assert "<script>" not in render_markdown(nightly_report())


def test_text_part_carries_the_same_counts_issues_and_urls() -> None:
    report = nightly_report()
    text = render_summary(report).text

    assert "Totals: 2 created, 2 updated, 5 unchanged, 1 skipped, 1 failed, 2 issues" in text
    assert "1 created, 1 updated, 5 unchanged, 1 skipped, 0 failed, 1 issue" in text
    for item in report.integrations:
        for outcome in item.outcomes:
            if outcome.action in ("created", "updated"):
                assert outcome.source_url in text and outcome.target_url in text
        for issue in item.issues:
            assert f"- {issue.label} [{issue.entity}, since " in text
            assert issue.message in text
            assert f"      {issue.url}" in text
    assert "      ABN / tax number: (empty) → 53 004 085 616" in text
    assert "DEBUG MODE" not in text


def test_subject_names_pair_flow_and_counts() -> None:
    assert render_summary(nightly_report()).subject == (
        "Trestle [acme] nightly: 2 created, 2 updated, 1 failed, 2 issues"
    )
    assert render_summary(clean_report()).subject == "Trestle [acme] projects: 0 created, 0 updated, 0 issues"


def test_dry_run_has_banner_and_would_verbs() -> None:
    rendered = render_summary(nightly_report(dry_run=True))
    facts = parse(rendered.html)

    assert rendered.subject.startswith("DEBUG MODE — Trestle [acme] nightly: 2 would create, 2 would update")
    assert "DEBUG MODE — nothing was written" in facts.text
    assert rendered.text.startswith("*** DEBUG MODE — nothing was written ***")
    assert "Would create (1)" in facts.text and "Would update (1)" in facts.text
    assert "Totals: 2 would create, 2 would update" in rendered.text
    assert "DEBUG MODE" not in parse(render_summary(nightly_report()).html).text


def test_failed_run_says_failed_with_the_error() -> None:
    report = failed_report()
    rendered = render_summary(report)

    assert rendered.subject == "Trestle [acme] payments FAILED: 0 created, 0 updated, 0 issues"
    assert f"Payments failed: {report.integrations[0].error}" in parse(rendered.html).text
    assert f"ERROR: Payments failed: {report.integrations[0].error}" in rendered.text
    assert "Outcome: FAILED" in rendered.text


def test_nothing_to_do_says_so() -> None:
    rendered = render_summary(clean_report())
    assert "Nothing needs action." in parse(rendered.html).text
    assert "Nothing needs action." in rendered.text


def test_html_is_self_contained() -> None:
    rendered = render_summary(nightly_report())
    facts = parse(rendered.html)

    assert not {"script", "link", "img", "style", "iframe"} & set(facts.tags)
    assert 'style="' in rendered.html


def test_markdown_links_records_and_issues() -> None:
    report = nightly_report()
    markdown = render_markdown(report)

    assert "**Totals:** 2 created · 2 updated · 5 unchanged · 1 skipped · 1 failed · 2 issues" in markdown
    for item in report.integrations:
        for outcome in item.outcomes:
            if outcome.action in ("created", "updated"):
                assert f"]({outcome.source_url})" in markdown
    assert "[No-ABN Plumbing](https://app.procore.com/562949953421312/company/vendors/103)" in markdown
    assert markdown.index("## Needs action") < markdown.index("## What changed")


def test_only_web_addresses_become_links() -> None:
    report = nightly_report()
    report.integrations[0].outcomes[0].source_url = "javascript:alert(1)"
    report.integrations[0].issues[0].url = "data:text/html,hi"

    facts = parse(render_summary(report).html)

    assert not [href for href in facts.links if not href.startswith("https://")]
    assert "No-ABN Plumbing" in facts.text


def test_a_record_not_written_without_an_issue_needs_action_too() -> None:
    report = many_records_report(3)
    report.integrations[0].add(
        RecordOutcome(
            action="failed",
            entity="vendor",
            label="Lost Vendor",
            source_system="procore",
            source_id="x",
            target_system="xero",
            reason="Procore returned no result",
        )
    )
    text = render_summary(report).text
    needs_action = text[text.index("== Needs action (1) ==") : text.index("== What changed")]
    assert "These records could not be written" in needs_action
    assert "- Lost Vendor [vendor]: Procore returned no result" in needs_action
